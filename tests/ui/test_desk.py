"""The front desk's workspace over HTTP, on SQLite and PostgreSQL: each role's home, the work
list grouped by what needs doing, every desk action (what it records, what it queues for the
source, that the row leaves the list and shows in the history), CSRF on every post, and the
login form with its session cookie, logout, idle expiry and the login throttle."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous.timed import TimestampSigner
from sqlalchemy import insert, select, update

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.runs.access_log import ACCESS_LOG
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model import Appointment, Quarantine
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.model.responses import RESPONSES, WRITEBACKS
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui.login import safe_next
from tests.ui.seed import NOW, seed, seed_desk
from tests.ui.test_pages import HASH, PASSWORD, basic

pytestmark = pytest.mark.anyio
DESK, MANAGER = basic("desk", PASSWORD), basic("manager", PASSWORD)
A = Appointment.__table__  # type: ignore[attr-defined]
# The tests narrowed to SQLite render pages from plain SQLAlchemy reads (sync/ui/queries.py,
# desk.py, attention.py, charts.py: no dialect branch) or refuse a post before any write.
# PostgreSQL still runs every desk action (its row lock, sync/desk/actions.py), the write-back
# queue, the login form and its throttle (shared_login.py's PostgreSQL state), and a walk of
# every GET page with its access-log rows (test_every_page_showing_unmasked_values_logs_the_view).


def settings_text(store_url: str, extra: str = "") -> str:
    return (f'clinic:\n  timezone: America/New_York\nstore:\n  url: "{store_url}"\n{extra}ui:\n  users:\n'
            f'    - name: desk\n      password_hash: "{HASH}"\n      role: front_desk\n'
            f'    - name: manager\n      password_hash: "{HASH}"\n')


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def seen_in(html: str, appointment_id: int) -> str:
    """The ``seen`` digest of the page's action form for one appointment."""
    found = re.search(rf'action="/ui/appointments/{appointment_id}/actions".*?name="seen" value="([^"]+)"', html,
                      re.DOTALL)
    assert found, f"no action form for appointment {appointment_id}"
    return found.group(1)


def groups(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-group="([a-z-]+)">[^<]*<strong>(\d+)</strong>', html)}


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="work-row" data-id="(\d+)"', html)]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_each_role_has_its_own_home(desk: tuple[httpx.AsyncClient, dict[str, int]], store: Store) -> None:
    client, ids = desk
    html = (await client.get("/ui/", headers=DESK)).text
    assert "Today and tomorrow: 3 to act on" in html
    assert groups(html) == {"doctor-declined": 0, "declined": 1, "reschedule": 1, "failed": 0, "no-answer": 1,
                            "not-reached": 0}
    assert row_ids(html) == [ids["A7"], ids["A5"], ids["A8"]]  # declined, reschedule, no answer: by urgency
    assert "Umar Nguyen" in html and "Ann Lee" in html and "Mornings please" in html  # names for the desk
    # A7 is in Chicago: its own 3:00 PM with CST, as its patient was told, not the clinic's 4:00 PM
    assert '<time datetime="2026-11-18T21:00:00+00:00">3:00\u202fPM CST</time>' in html
    assert "Still booked in csv: this source is not written back; cancel it in csv." in html
    with store.engine.connect() as connection:
        assert [(r.user, r.view, r.patients) for r in connection.execute(select(ACCESS_LOG))] == [("desk", "/ui/", 3)]
    today = (await client.get("/ui/?day=today", headers=DESK)).text
    assert row_ids(today) == [ids["A7"]] and 'id="day-counts"' in today
    asks = (await client.get("/ui/?need=reschedule", headers=DESK)).text
    assert row_ids(asks) == [ids["A5"]]
    it = (await client.get("/ui/", headers=MANAGER)).text
    assert "<h1>Health</h1>" in it and "Umar Nguyen" not in it and "work-row" not in it
    assert "No data yet." not in it.split('id="chart-funnel"')[1].split("</figure>")[0]  # the seed has messages


@pytest.mark.parametrize(("action", "participation", "source", "writeback"), [
    ("confirmed_by_phone", "accepted", "by_hand", (None, "accepted")),
    ("cancel", "declined", "by_hand", ("cancelled", "declined")),
    ("left_message", None, "none", None),
    ("reschedule_handled", None, "none", None),
])
async def test_a_desk_action_is_recorded_shrinks_the_list_and_shows_in_the_history(
        desk: tuple[httpx.AsyncClient, dict[str, int]], store: Store, action: str, participation: str | None,
        source: str, writeback: tuple[str | None, str] | None) -> None:
    client, ids = desk
    page = (await client.get("/ui/", headers=DESK)).text
    target = ids["A8"]  # no answer yet
    posted = await client.post(f"/ui/appointments/{target}/actions", headers=DESK,
                               data={"csrf": csrf_of(page), "action": action, "back": "/ui/",
                                     "seen": seen_in(page, target), "reason": "patient_ill"})
    assert posted.status_code == 303
    with store.engine.connect() as connection:
        action_id = connection.execute(select(DESK_ACTIONS.c.id)).scalar()
    assert posted.headers["location"] == f"/ui/?done=a{action_id}"
    after = (await client.get("/ui/", headers=DESK)).text
    assert target not in row_ids(after) and len(row_ids(after)) == 2  # the list shrank by this row
    with store.engine.connect() as connection:
        rows = connection.execute(select(DESK_ACTIONS)).all()
        assert [(r.appointment_id, r.action, r.user, r.role, r.source, r.at) for r in rows] == [
            (target, action, "desk", "front_desk", source, NOW)]
        assert connection.execute(select(A.c.participation).where(A.c.id == target)).scalar() == participation
        queued = connection.execute(select(WRITEBACKS.c.appointment_status, WRITEBACKS.c.participant_status)
                                    .where(WRITEBACKS.c.appointment_id == target)).all()
        assert [tuple(q) for q in queued] == ([writeback] if writeback else [])
        answers = connection.execute(select(RESPONSES.c.channel, RESPONSES.c.sender)
                                     .where(RESPONSES.c.appointment_id == target)).all()
        assert [tuple(a) for a in answers] == ([("desk", "desk")] if participation else [])
    history = (await client.get(f"/ui/appointments/{target}", headers=DESK)).text
    label = {"confirmed_by_phone": "confirmed by phone", "cancel": "cancelled", "left_message": "left a message",
             "reschedule_handled": "reschedule request handled"}[action]
    assert f"<strong>front desk: {label}</strong>" in history and "recorded by user desk" in history
    if action == "cancel":
        assert "cancel it in csv too (this source is not written back)" in history


async def test_a_source_that_takes_answers_says_written_back(tmp_path: Path, store_url: str, store: Store) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    path = tmp_path / "settings.yaml"
    connectors = (f"connectors:\n  - name: csv\n    kind: csv\n    mapping: csv_default\n    drop_dir: {drop}\n"
                  f"    responses_file: {tmp_path / 'answers.csv'}\n")
    path.write_text(settings_text(store_url, connectors), encoding="utf-8")
    ids = seed_desk(store, seed(store))
    app = create_app(load_settings(path), store)
    app.state.ui_clock = lambda: NOW
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        page = (await client.get("/ui/", headers=DESK)).text
        assert "Still booked" not in page  # A7's decline reaches the source
        await client.post(f"/ui/appointments/{ids['A7']}/actions", headers=DESK,
                          data={"csrf": csrf_of(page), "action": "cancel", "reason": "patient_asked",
                                "seen": seen_in(page, ids["A7"])})
        history = (await client.get(f"/ui/appointments/{ids['A7']}", headers=DESK)).text
    assert "written back to csv (csv)" in history
    with store.engine.connect() as connection:
        assert connection.execute(select(DESK_ACTIONS.c.source)).scalar() == "queued"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_posts_without_the_csrf_token_or_from_a_viewer_are_refused(
        desk: tuple[httpx.AsyncClient, dict[str, int]], store: Store) -> None:
    client, ids = desk
    url = f"/ui/appointments/{ids['A8']}/actions"
    for data in ({"action": "cancel"}, {"action": "cancel", "csrf": "forged"}):
        refused = await client.post(url, headers=DESK, data=data)
        assert refused.status_code == 403 and "did not come from the status page" in refused.text
    manager_token = client._transport.app.state.ui_sessions.basic_csrf("manager")  # type: ignore[attr-defined]
    viewer = await client.post(url, headers=MANAGER, data={"csrf": manager_token, "action": "cancel"})
    assert viewer.status_code == 403 and "only the front desk" in viewer.text
    desk_page = (await client.get("/ui/", headers=DESK)).text
    bad = await client.post(url, headers=DESK, data={"csrf": csrf_of(desk_page), "action": "drop_table"})
    assert bad.status_code == 422 and "action" in bad.text
    with store.engine.connect() as connection:
        assert connection.execute(select(DESK_ACTIONS)).all() == []
        assert connection.execute(select(WRITEBACKS)).all() == []


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_appointments_show_names_to_the_desk_filter_not_confirmed_and_log_the_view(
        desk: tuple[httpx.AsyncClient, dict[str, int]], store: Store) -> None:
    client, _ = desk
    html = (await client.get("/ui/appointments?answer=not-confirmed", headers=DESK)).text
    assert "Ann Lee" in html and html.count("timeline-link") == 2  # A8 and A6 await a yes
    assert "Jamal Weber" not in html and "Umar Nguyen" not in html  # A5 confirmed, A7 declined
    masked = (await client.get("/ui/appointments", headers=MANAGER)).text
    assert "Ann Lee" not in masked and "A.L." in masked
    with store.engine.connect() as connection:
        assert [(r.user, r.view) for r in connection.execute(select(ACCESS_LOG))] == [("desk", "/ui/appointments")]


async def test_login_form_session_logout_and_idle_expiry(desk: tuple[httpx.AsyncClient, dict[str, int]],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    client, _ = desk
    browser = {"Accept": "text/html,application/xhtml+xml"}
    sent = await client.get("/ui/attention", headers=browser)
    assert sent.status_code == 303 and sent.headers["location"] == "/ui/login?next=/ui/attention"
    form = await client.get("/ui/login?next=/ui/attention")
    token = csrf_of(form.text)
    forged = await client.post("/ui/login", data={"user": "desk", "password": PASSWORD, "csrf": "x"})
    assert forged.status_code == 403 and "set-cookie" not in {k.lower() for k in forged.headers if "clinicsync_ui=" in
                                                               forged.headers.get(k, "")}
    wrong = await client.post("/ui/login", data={"user": "desk", "password": "nope", "csrf": token})
    assert wrong.status_code == 401 and "Wrong user name or password." in wrong.text
    good = await client.post("/ui/login", data={"user": "desk", "password": PASSWORD, "csrf": token,
                                                "next": "/ui/attention"})
    assert good.status_code == 303 and good.headers["location"] == "/ui/attention"
    cookie = next(c for c in good.headers.get_list("set-cookie") if c.startswith("clinicsync_ui="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie and "Secure" not in cookie
    home = await client.get("/ui/", headers=browser)
    assert home.status_code == 200 and 'id="logout"' in home.text and "work-row" in home.text
    old = client.cookies.get("clinicsync_ui")
    out = await client.post("/ui/logout", data={"csrf": csrf_of(home.text.split('action="/ui/logout"')[1])})
    assert out.status_code == 303 and out.headers["location"] == "/ui/login?out=1"
    assert (await client.get("/ui/", headers=browser)).status_code == 303
    client.cookies.set("clinicsync_ui", str(old))  # a copy of the cookie does not outlive the logout
    assert (await client.get("/ui/", headers=browser)).status_code == 303
    # idle: a cookie signed 31 minutes ago (ui.session_idle_minutes is 30) is no session
    client.cookies.clear()
    token = csrf_of((await client.get("/ui/login")).text)
    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: real(self) - 31 * 60)
    await client.post("/ui/login", data={"user": "desk", "password": PASSWORD, "csrf": token})
    monkeypatch.setattr(TimestampSigner, "get_timestamp", real)
    assert (await client.get("/ui/", headers=browser)).status_code == 303


async def test_the_login_form_is_throttled_like_basic(tmp_path: Path, store_url: str, store: Store) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(settings_text(store_url, "server:\n  public_url: https://desk.example.org\n"), encoding="utf-8")
    app = create_app(load_settings(path), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://test") as client:
        token = csrf_of((await client.get("/ui/login")).text)
        codes = [(await client.post("/ui/login", data={"user": "desk", "password": f"guess{i}", "csrf": token})
                  ).status_code for i in range(6)]
        assert codes == [401] * 5 + [429]  # ui.failures_allowed: 5
        locked = await client.post("/ui/login", data={"user": "desk", "password": PASSWORD, "csrf": token})
        assert locked.status_code == 429 and "Too many failed logins" in locked.text
        assert int(locked.headers["retry-after"]) >= 1
        # the same lockout holds for Basic from this client
        assert (await client.get("/ui/", headers=DESK)).status_code == 429
    # Another app (on PostgreSQL a replica: the lockout is in the store and holds there too) and
    # another client and user: the cookie is Secure behind https.
    app = create_app(load_settings(path), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("192.0.2.50", 1)),
                                 base_url="https://test") as client:
        token = csrf_of((await client.get("/ui/login")).text)
        good = await client.post("/ui/login", data={"user": "manager", "password": PASSWORD, "csrf": token})
        assert "Secure" in next(c for c in good.headers.get_list("set-cookie") if c.startswith("clinicsync_ui="))


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_the_appointment_page_describes_the_visit_and_says_which_message(
        desk: tuple[httpx.AsyncClient, dict[str, int]]) -> None:
    client, ids = desk
    html = (await client.get(f"/ui/appointments/{ids['A5']}", headers=MANAGER)).text
    title = html.split('id="visit-title">')[1].split("</h1>")[0]
    assert title.startswith("Checkup with Dr. Amelia Hart, <time") and "Thu, Nov 19, 2026, 9:00\u202fAM" in title
    assert "csv:A5" not in html and "J.W." in html and "Jamal" not in html  # the viewer: initials
    assert "<strong>24 h reminder: sent via sms</strong>" in html  # a delivery names its message
    assert "<strong>planned 24 h reminder to patient</strong>" in html
    assert "Record what you did" not in html  # a viewer has no buttons


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_quarantine_items_show_their_id_and_reasons_as_plain_text(
        desk: tuple[httpx.AsyncClient, dict[str, int]], store: Store) -> None:
    client, _ = desk
    with store.engine.begin() as connection:
        connection.execute(insert(Quarantine.__table__).values(  # type: ignore[attr-defined]
            run_id="r-new", connector="csv", position="b.csv:2", record_id="B2", field="start",
            reason="`start` is **not** a date: see [the guide](https://example.org/guide)", raw="{}",
            created_at=NOW, last_seen=NOW, item_key="md", status="open", seen_count=1))
    html = (await client.get("/ui/quarantine", headers=DESK)).text
    assert "start is not a date: see the guide" in html and "**" not in html and "](" not in html
    ids = re.findall(r'<td class="item-id" data-label="id"><code>(\d+)</code>', html)
    assert len(ids) == 2 and all(f"clinicsync quarantine retry {i}</code>" in html for i in ids)


def test_after_login_only_a_path_on_this_site() -> None:
    assert safe_next("/ui/attention?day=today") == "/ui/attention?day=today"
    for hostile in ("//evil.example", "https://evil.example", "/\t/evil.example", "/\\evil.example", "", None):
        assert safe_next(hostile) == "/ui/"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_empty_charts_say_no_data_yet(tmp_path: Path, store_url: str, store: Store) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(settings_text(store_url), encoding="utf-8")
    app = create_app(load_settings(path), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        html = (await client.get("/ui/", headers=MANAGER)).text
    assert html.count("No data yet.") == 5 and "<svg" not in html  # funnel, weeks, doctors, waitlist, channels
    assert "Messages not yet due are left out: they are planned, not failing." in html


# Values only the front desk may see: the seeded patients' names, phones (any formatting of
# the 555-01xx numbers), emails, and a surname quoted in a quarantine reason.
PHI = re.compile(r"Jamal Weber|Yara García|Umar Nguyen|Ann Lee|555\D?01\d\d|jamal\.weber@|yara@|ann@|Okafor")


def _access_rows(store: Store) -> list[tuple[str, str, str, str]]:
    with store.engine.connect() as connection:
        return [(r.user, r.role, r.view, r.appointment_ids)
                for r in connection.execute(select(ACCESS_LOG).order_by(ACCESS_LOG.c.id))]


async def test_every_page_showing_unmasked_values_logs_the_view(
        desk: tuple[httpx.AsyncClient, dict[str, int]], store: Store) -> None:
    """Walks every GET page under /ui: as front desk, a page showing any unmasked value left
    exactly one access-log row for itself (ids only, no values); as viewer, no page shows one."""
    from clinicsync.sync.ui.routes import pages

    client, ids = desk
    with store.engine.begin() as c:
        c.execute(insert(Quarantine.__table__).values(  # type: ignore[attr-defined]
            run_id="r-old", connector="csv", position="a.csv:9", record_id="A10", field="status",
            reason="status: 'Okafor' is not a known status", raw="{}", created_at=NOW, last_seen=NOW,
            item_key="seeded-a10-status", status="open", seen_count=1))
        c.execute(insert(Quarantine.__table__).values(  # type: ignore[attr-defined]  # a name shifted into the id column
            run_id="r-old", connector="csv", position="a.csv:11", record_id="Ann Lee", field="start",
            reason="start: not a date", raw="{}", created_at=NOW, last_seen=NOW,
            item_key="seeded-shifted", status="open", seen_count=1))
    paths = sorted({route.path for route in pages.routes if "GET" in getattr(route, "methods", ())})
    assert {"/ui/", "/ui/quarantine", "/ui/appointments", "/ui/attention"} <= set(paths)
    logged = set()
    for path in paths:
        url = path.replace("{appointment_id}", str(ids["A5"]))
        assert "{" not in url, f"{path}: a path parameter this test does not fill"
        before = len(_access_rows(store))
        viewer = await client.get(url, headers=MANAGER)
        assert viewer.status_code == 200, path
        assert not PHI.search(viewer.text), f"{path} shows an unmasked value to the viewer role"
        assert len(_access_rows(store)) == before, f"{path} logged a view that showed nothing unmasked"
        page = await client.get(url, headers=DESK)
        assert page.status_code == 200, path
        new = _access_rows(store)[before:]
        if PHI.search(page.text):
            assert len(new) == 1, f"{path} showed unmasked values to the front desk; access-log rows: {new}"
            [(user, role, view, record_ids)] = new
            assert (user, role, view.rstrip("/")) == ("desk", "front_desk", path.rstrip("/"))
            assert re.fullmatch(r"\d+(,\d+)*", record_ids), record_ids  # ids, never values
            logged.add(path.rstrip("/"))
        else:
            assert not new, f"{path} logged a view that showed nothing unmasked"
    assert {"/ui", "/ui/quarantine", "/ui/appointments", "/ui/attention",
            "/ui/appointments/{appointment_id}"} <= logged


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_every_page_and_the_cli_show_forgotten_visits_without_their_patients(
        desk: tuple[httpx.AsyncClient, dict[str, int]], store: Store, tmp_path: Path, cli: Any) -> None:
    """A store whose visits' patient data was forgotten (store.patient_data_days, sync/store/retention.py):
    NULL patients, links, reasons, reply bodies and raw records. Every GET page, for every
    visit, as both roles, and the CLI's lists and status still work and show no patient."""
    from datetime import timedelta

    from clinicsync.sync.ui.routes import pages

    client, ids = desk
    forgotten = store.forget_patient_data(NOW + timedelta(days=400))
    assert forgotten.appointments == len(ids) and forgotten.patients == 4 and forgotten.quarantine == 1
    paths = sorted({route.path for route in pages.routes if "GET" in getattr(route, "methods", ())})
    names = re.compile(r"Jamal|Weber|Yara|García|Umar|Nguyen|Ann Lee|J\.W\.|ann@", re.IGNORECASE)
    for path in paths:
        for appointment_id in ids.values() if "{appointment_id}" in path else [0]:
            url = path.replace("{appointment_id}", str(appointment_id))
            for role in (DESK, MANAGER):
                page = await client.get(url, headers=role)
                assert page.status_code == 200, url
                assert not names.search(page.text), url
    run = cli(tmp_path / "settings.yaml")
    for args in (("appointments", "list", "--all", "--json"), ("appointments", "show", "csv:A1"),
                 ("quarantine", "list"), ("reminders", "list"), ("status",)):
        out = run(*args, expect=None)
        assert out[0] in (0, 1), (args, out)  # 1: status's own "needs attention" verdict, never a crash
        assert "Traceback" not in out[1] + out[2] and not names.search(out[1]), args


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_the_desk_is_told_the_clinics_name_for_its_system(tmp_path: Path, store_url: str, store: Store) -> None:
    """A connector's ``label:`` is what the desk reads ("cancel it in OpenEMR"), not its kind."""
    connectors = ("connectors:\n  - {name: csv, kind: csv, mapping: csv_default, drop_dir: drop, "
                  "label: Front Office PM}\n")
    path = tmp_path / "settings.yaml"
    path.write_text(settings_text(store_url, connectors), encoding="utf-8")
    (tmp_path / "drop").mkdir()
    ids = seed_desk(store, seed(store))
    app = create_app(load_settings(path), store)
    app.state.ui_clock = lambda: NOW
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        html = (await client.get("/ui/", headers=DESK)).text
        visit = (await client.get(f"/ui/appointments/{ids['A8']}", headers=DESK)).text
        waitlist = (await client.get("/ui/waitlist", headers=DESK)).text
    assert "Still booked in Front Office PM: this source is not written back; cancel it in Front Office PM." in html
    assert "(in Front Office PM, id A8)" in visit  # the status line names the system as the desk's sentences do
    assert '<option value="csv">Front Office PM</option>' in waitlist  # the add form's Source


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_today_rows_say_a_visit_is_by_video_or_by_phone(desk: tuple[httpx.AsyncClient, dict[str, int]],
                                                              store: Store) -> None:
    """The desk calling about a video visit tells the patient about the link, not the address:
    a row says "by video" or "by phone" in words (the icon beside them is decoration)."""
    client, ids = desk
    with store.engine.begin() as connection:
        for ext, mode in (("A7", "phone"), ("A8", "video")):
            connection.execute(update(A).where(A.c.id == ids[ext]).values(visit_mode=mode))
    html = (await client.get("/ui/", headers=DESK)).text

    def row(appointment_id: int) -> str:
        return unescape(re.sub(r"<[^>]+>", "", html.split(f'data-id="{appointment_id}"')[1].split("</li>")[0]))

    assert "Follow-up with Dr. Amelia Hart 📞 by phone" in row(ids["A7"])
    assert "Checkup with Dr. Rafael Ortiz 📹 by video" in row(ids["A8"])
    in_person = html.split(f'data-id="{ids["A5"]}"')[1].split("</li>")[0]
    assert "badge mode" not in in_person and "by video" not in row(ids["A5"])  # in person: nothing added
    assert '<span class="badge mode mode-video"><span aria-hidden="true">' in html
