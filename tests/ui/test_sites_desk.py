"""Sites on the status page (issue 60): a desk user of North sees and acts on North's visits only;
anything of South named in a path answers exactly as a missing one, on every /ui route (read from
the app's router, so a route added later is covered or fails here); a user of both sites sees
both, each row naming its practice; the access log names the sites shown and the user's scope."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import insert, select

from clinicsync.sync.config.config_loader import ConfigError, load_yaml_text
from clinicsync.sync.config.settings import load_settings, validate_settings
from clinicsync.sync.config.settings.ui import UiUser
from clinicsync.sync.runs.access_log import ACCESS_LOG
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model import Appointment, Patient
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import SET_ASIDE
from clinicsync.sync.ui.scope import named_in_path
from clinicsync.sync.ui.session import generation
from tests.ui.seed import NOW, ask_to_reschedule, seed, seed_desk
from tests.ui.test_desk import csrf_of, row_ids
from tests.ui.test_pages import HASH, PASSWORD, basic
from tests.waitlist import book_rows

pytestmark = pytest.mark.anyio
NORTH, BOTH, IT = basic("north-desk", PASSWORD), basic("both-desk", PASSWORD), basic("north-it", PASSWORD)
A = Appointment.__table__  # type: ignore[attr-defined]
MISSING = 2_000_000_000  # an id no row has


def group_settings(store_url: str, drop: Path) -> str:
    """Two practices, one source each: csv is North's (the seed's visits), sql is South's."""
    users = "".join(f'    - {{name: {name}, password_hash: "{HASH}", role: {role}{sites}}}\n' for name, role, sites in (
        ("north-desk", "front_desk", ", sites: [north]"), ("both-desk", "front_desk", ", sites: [south, north]"),
        ("north-it", "viewer", ", sites: [north]")))
    return (f'clinic:\n  name: Lakeside Group\n  timezone: America/New_York\nstore:\n  url: "{store_url}"\n'
            "sites:\n  north: {name: North Dental, timezone: America/Denver}\n  south: {name: South Dental}\n"
            f"connectors:\n  - {{name: csv, kind: csv, mapping: csv_default, drop_dir: {drop}, site: north}}\n"
            f"  - {{name: sql, kind: csv, mapping: csv_default, drop_dir: {drop}, site: south}}\n"
            f"ui:\n  users:\n{users}")


def seed_south(store: Store) -> dict[str, int]:
    """South's objects, one of each kind a /ui path names: a visit tomorrow its patient declined
    (on South's Today), a desk action on it, and a waitlist slot and entry (book_rows)."""
    with store.engine.begin() as c:
        c.execute(insert(Patient.__table__).values(  # type: ignore[attr-defined]
            connector="sql", external_id="S1", name="Zora Blix", phone="+12125550177", content_hash="h",
            updated_at=NOW))
        visit = c.execute(insert(A).values(
            connector="sql", external_id="B1", status="booked", participation="declined", patient_ref="S1",
            start_utc=datetime(2026, 11, 19, 15, tzinfo=UTC), end_utc=datetime(2026, 11, 19, 15, 30, tzinfo=UTC),
            timezone="America/New_York", content_hash="h", version=1, created_at=NOW,
            updated_at=NOW)).inserted_primary_key
        assert visit is not None
        action = c.execute(insert(DESK_ACTIONS).values(
            appointment_id=visit[0], version=0, action="left_message", user="both-desk", role="front_desk",
            source="none", at=NOW - timedelta(hours=1))).inserted_primary_key
        assert action is not None
        c.execute(insert(SET_ASIDE).values(
            stage="reminders", item=f"appointment:{visit[0]}", appointment_id=visit[0], connector="sql",
            external_id="B1", reason="template error", status="open", first_at=NOW, last_at=NOW))
    waiting = book_rows.seed(store, "sql")
    return {"appointment_id": int(visit[0]), "action_id": int(action[0]), "slot_id": waiting.slot_id,
            "entry_id": waiting.entry_id}


@pytest.fixture
async def group(tmp_path: Path, store_url: str, store: Store) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, int],
                                                                                     dict[str, int]]]:
    (tmp_path / "drop").mkdir()
    path = tmp_path / "settings.yaml"
    path.write_text(group_settings(store_url, tmp_path / "drop"), encoding="utf-8")
    ids = seed_desk(store, seed(store))
    ask_to_reschedule(store, ids["A5"])
    south = seed_south(store)
    app = create_app(load_settings(path), store)
    app.state.ui_clock = lambda: NOW
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client, ids, south


def all_routes(routes: list[Any]) -> list[APIRoute]:
    """The app's routes, through the routers it includes (each a layer of its own here)."""
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):
            out.extend(all_routes(route.original_router.routes))
    return out


def ui_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every status-page route taking a row named in its path."""
    return [(method, route.path) for route in all_routes(app.router.routes)
            if route.path.startswith("/ui/") and "{" in route.path for method in sorted(route.methods - {"HEAD"})]


FILL = {"kind": "book"}  # path parameters that name no row


def url_of(path: str, values: dict[str, int]) -> str:
    names = re.findall(r"{(\w+)}", path)
    unknown = [n for n in names if n not in values and n not in FILL]
    assert not unknown, f"{path}: a path parameter the site guard (sync/ui/scope.py) does not know: {unknown}"
    return re.sub(r"{(\w+)}", lambda m: str(values.get(m.group(1), FILL.get(m.group(1)))), path)


async def test_a_desk_user_of_north_gets_the_missing_rows_404_for_south_on_every_route(
        group: tuple[httpx.AsyncClient, dict[str, int], dict[str, int]], store: Store) -> None:
    client, _, south = group
    app = client._transport.app  # type: ignore[attr-defined]
    routes = ui_routes(app)
    assert {p for _, p in routes} >= {"/ui/appointments/{appointment_id}", "/ui/desk-actions/{action_id}/undo",
                                      "/ui/waitlist/slots/{slot_id}/{kind}", "/ui/waitlist/{entry_id}/remove"}
    for user in (NORTH, IT):
        page = (await client.get("/ui/waitlist", headers=user)).text
        form = {"csrf": csrf_of(page) if 'name="csrf"' in page else "", "action": "confirmed_by_phone",
                "answer": "booked", "seen": "x"}
        for method, path in routes:
            answers = []
            for values in (south, dict.fromkeys(south, MISSING)):
                answers.append(await client.request(method, url_of(path, values), headers=user,
                                                    data=form if method == "POST" else None))
            theirs, missing = answers
            assert (theirs.status_code, missing.status_code) == (404, 404), (method, path)
            assert theirs.text == missing.text, (method, path)  # nothing tells "another practice's" from "none"
    shown = await client.get(f"/ui/waitlist?appointment={south['appointment_id']}", headers=NORTH)
    assert shown.status_code == 404
    token = csrf_of((await client.get("/ui/waitlist", headers=NORTH)).text)
    added = await client.post("/ui/waitlist", headers=NORTH, data={
        "csrf": token, "connector": "sql", "patient_id": "p2", "windows": "mon-fri 09:00-13:00"})
    assert added.status_code == 422 and "No patient with this id is known from sql" in added.text
    with store.engine.connect() as connection:  # nothing was done to South's rows
        assert connection.execute(select(DESK_ACTIONS.c.undone_at)).all() == [(None,)]
        assert connection.execute(select(A.c.participation).where(A.c.id == south["appointment_id"])).scalar() \
            == "declined"
    both = await client.get(f"/ui/appointments/{south['appointment_id']}", headers=BOTH)
    assert both.status_code == 200 and "Zora Blix" in both.text


async def test_every_page_lists_only_the_users_sites_and_the_access_log_names_them(
        group: tuple[httpx.AsyncClient, dict[str, int], dict[str, int]], store: Store) -> None:
    client, ids, south = group
    north_today = (await client.get("/ui/", headers=NORTH)).text
    assert row_ids(north_today) == [ids["A7"], ids["A5"], ids["A8"]] and "Zora Blix" not in north_today
    assert 'class="badge site"' not in north_today and 'id="site-picker"' not in north_today  # one site: no label
    assert "<strong>North Dental</strong>" in north_today  # the page speaks for its one practice, in its zone
    assert re.search(r'id="zone">Times in [^<]*M[SD]T', north_today), north_today.split('id="zone"')[1][:80]
    for page in ("/ui/appointments?days=7", "/ui/attention", "/ui/waitlist", "/ui/quarantine", "/ui/health"):
        for user in (NORTH, IT):
            html = (await client.get(page, headers=user)).text
            assert "Zora" not in html and "Mara Quint" not in html and ">sql<" not in html, (page, user)
            assert "sql:B1" not in html and 'id="set-aside"' not in html, (page, user)  # South's set-aside item
    assert "sql:B1" in (await client.get("/ui/health", headers=BOTH)).text
    both_today = (await client.get("/ui/", headers=BOTH)).text
    assert set(row_ids(both_today)) == {ids["A7"], ids["A5"], ids["A8"], south["appointment_id"]}
    # South's visit, and its slot a patient just took from the waitlist (booking under way)
    assert both_today.count('<span class="badge site">South Dental</span>') == 2
    assert both_today.count('<span class="badge site">North Dental</span>') == 3
    assert 'id="site-picker"' in both_today and "<strong>Lakeside Group</strong>" in both_today
    picked = (await client.get("/ui/?site=south", headers=BOTH)).text
    assert row_ids(picked) == [south["appointment_id"]] and 'href="/ui/waitlist?site=south"' in picked
    beyond = (await client.get("/ui/?site=south", headers=NORTH)).text  # a site not theirs widens nothing
    assert row_ids(beyond) == row_ids(north_today)
    waiting = (await client.get("/ui/waitlist", headers=BOTH)).text
    assert "Mara Quint" in waiting and "South Dental" in waiting
    with store.engine.connect() as connection:
        rows = [(r.user, r.view, r.sites, r.scope) for r in connection.execute(
            select(ACCESS_LOG).where(ACCESS_LOG.c.view == "/ui/").order_by(ACCESS_LOG.c.id))]
    assert rows == [("north-desk", "/ui/", "north", "north"), ("both-desk", "/ui/", "north,south", "north,south"),
                    ("both-desk", "/ui/", "south", "north,south"), ("north-desk", "/ui/", "north", "north")]


async def test_without_sites_the_log_says_nothing_of_sites(
        desk: tuple[httpx.AsyncClient, dict[str, int]], store: Store) -> None:
    client, ids = desk
    html = (await client.get("/ui/", headers=basic("desk", PASSWORD))).text
    assert row_ids(html) == [ids["A7"], ids["A5"], ids["A8"]] and 'badge site' not in html
    assert 'id="site-picker"' not in html
    with store.engine.connect() as connection:
        assert [(r.sites, r.scope) for r in connection.execute(select(ACCESS_LOG))] == [(None, None)]


def test_a_users_sites_are_known_keys_and_bind_the_session() -> None:
    base = ("sites: {north: {name: North}}\nconnectors: [{name: pm, kind: csv, mapping: generic_csv, "
            "drop_dir: /tmp, site: north}]\n")
    user = f'ui: {{users: [{{name: d, password_hash: "{HASH}", role: front_desk, SITES}}]}}\n'
    for text, problem in ((base + user.replace("SITES", "sites: [north, east]"), "ui.users[0].sites"),
                          (user.replace("SITES", "sites: [north]"), "`sites:` is not set")):
        with pytest.raises(ConfigError) as refused:
            validate_settings(load_yaml_text(text, "settings.yaml"), "settings.yaml", Path("."))
        assert problem in str(refused.value) and ("east" in str(refused.value) or "north" in str(refused.value))
    everyone = UiUser(name="d", password_hash=HASH, role="front_desk")
    north = everyone.model_copy(update={"sites": ["north"]})
    key = b"k" * 32
    assert generation(key, north) != generation(key, everyone)  # a change of sites ends the session
    assert generation(key, everyone) == generation(key, UiUser(name="d", password_hash=HASH, role="front_desk"))


def test_the_guard_reads_every_row_a_path_names() -> None:
    class Request:
        path_params = {"appointment_id": "7", "action_id": 3, "kind": "book", "slot_id": "99999999999",
                       "entry_id": "0"}

    # out of range: left to the route's 422 (a PostgreSQL integer would overflow)
    assert named_in_path(Request()) == [("appointment_id", 7), ("action_id", 3)]  # type: ignore[arg-type]


async def test_the_cli_lists_one_sites_data_with_site(
        group: tuple[httpx.AsyncClient, dict[str, int], dict[str, int]], tmp_path: Path, cli: Any) -> None:
    run = cli(tmp_path / "settings.yaml")
    err = run("appointments", "list", "--all", "--json", "--site", "east", expect=2)[2]
    assert "--site: unknown site 'east' (one of: north, south)" in err
    listed = {site: {f"{r['connector']}:{r['external_id']}" for r in json.loads(
        run("appointments", "list", "--all", "--json", "--site", site)[1])["items"]} for site in ("north", "south")}
    assert listed["south"] == {"sql:A6", "sql:B1", "sql:freed-wl-1"}
    assert "csv:A5" in listed["north"] and all(ref.startswith("csv:") for ref in listed["north"])
    assert run("appointments", "show", "csv:A5", "--site", "south", expect=1)[1].strip() == "no appointment csv:A5"
    run("appointments", "show", "csv:A5", "--site", "north")
    for site, sources in (("north", {"csv"}), ("south", set())):  # the seed's runs are csv's
        status = json.loads(run("status", "--json", "--site", site, expect=None)[1])
        assert {c["connector"] for c in status["connectors"]} == sources
    assert json.loads(run("set-aside", "list", "--json", "--site", "north")[1])["total"] == 0
    assert json.loads(run("set-aside", "list", "--json", "--site", "south")[1])["items"][0]["appointment"] == "sql:B1"
    assert json.loads(run("quarantine", "list", "--json", "--site", "south")[1])["total"] == 0
    assert json.loads(run("quarantine", "list", "--json", "--site", "north")[1])["total"] == 1
    north = json.loads(run("reminders", "list", "--all", "--json", "--site", "north")[1])["items"]
    assert north and all(r["appointment"].startswith("csv:") for r in north)
    assert json.loads(run("reminders", "list", "--all", "--json", "--site", "south")[1])["total"] == 0


async def test_a_site_users_charts_count_weeks_in_the_sites_zone(group: Any, store: Store) -> None:
    """The page's one labelled zone is the site's (Denver): its charts' weeks are Denver's too. A
    visit at 01:30 on Monday Nov 2 in New York (the clinic's zone) is still Sunday in Denver, so
    it belongs to the week before (no other visit of the seed is in either week)."""
    client, _, _ = group
    with store.engine.begin() as c:
        c.execute(insert(A).values(
            connector="csv", external_id="LATE-SUNDAY", status="booked", participation="confirmed",
            patient_ref="P1", start_utc=datetime(2026, 11, 2, 6, 30, tzinfo=UTC),
            end_utc=datetime(2026, 11, 2, 7, tzinfo=UTC), timezone="America/Denver", content_hash="h", version=1,
            created_at=NOW - timedelta(days=5), updated_at=NOW - timedelta(days=5)))
    page = (await client.get("/ui/health", headers=NORTH)).text
    assert "Mountain" in page or "America/Denver" in page or "MST" in page  # the page's zone is North's
    assert "Oct 26 \u2013 Nov 1" in page and "Nov 2 \u2013 8" not in page  # Denver's week, not New York's
