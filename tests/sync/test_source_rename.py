"""A source renamed in settings.yaml, or removed from it, months after go-live: the
clinic's admin, through the CLI, on the embedded default settings (the CSV demo, .ics
calendars, the outbox notifier), on SQLite and on PostgreSQL.

On main, the new name imported all 288 visits again as new (pending reminders doubled, a second
calendar event per visit) and a removed source's reminders went on being sent, though no
cancellation of its visits could arrive any more."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clinicsync.sync.store.store import Store
from tests.conftest import ROOT, Cli

OLD, NEW = "demo-csv", "clinic-csv"


def next_eight_in_new_york() -> datetime:
    """When the demo's confirmations (held by the quiet hours) and first reminders are due."""
    now = datetime.now(ZoneInfo("America/New_York"))
    today = datetime.combine(now.date(), time(8, 0), now.tzinfo)
    return today if now < today else datetime.combine(now.date() + timedelta(days=1), time(8, 0), now.tzinfo)


class Clinic:
    """The embedded default settings in a folder of their own, on the test's store."""

    def __init__(self, folder: Path, cli: Callable[[Path | None], Cli]) -> None:
        self.folder = folder
        self.settings = folder / "settings.yaml"
        self.settings.write_text((ROOT / "settings.yaml").read_text())
        self.run = cli(self.settings)

    def json(self, *args: str, expect: int | None = 0) -> Any:
        return json.loads(self.run(*args, "--json", expect=expect)[1])

    def rename_in_settings(self, old: str, new: str) -> None:
        text = self.settings.read_text()
        assert f"- name: {old}\n" in text
        self.settings.write_text(text.replace(f"- name: {old}\n", f"- name: {new}\n"))

    def remove_the_source(self) -> None:
        """The connector block gone from the settings: the clinic stopped syncing it."""
        text = self.settings.read_text()
        start, end = text.index("connectors:\n"), text.index("\nnotifiers:")
        self.settings.write_text(text[:start] + "connectors: []\n" + text[end:])

    def reminders(self, status: str | None = None) -> list[dict[str, Any]]:
        return self.json("reminders", "list", "--all", *(["--status", status] if status else []))["items"]

    def pending(self) -> int:
        return int(self.json("status")["reminders"]["pending"])

    def events(self) -> Counter[tuple[str, str]]:
        """The .ics calendars' events as (source, status), one per VEVENT."""
        out: Counter[tuple[str, str]] = Counter()
        for path in (self.folder / ".clinicsync" / "calendars").glob("*.ics"):
            for block in path.read_text().split("BEGIN:VEVENT")[1:]:
                fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
                out[(fields["X-CLINICSYNC-CONNECTOR"], fields.get("STATUS", "CONFIRMED"))] += 1
        return out

    def sent_files(self) -> int:
        outbox = self.folder / ".clinicsync" / "outbox"
        return sum(1 for p in outbox.rglob("*") if p.is_file()) if outbox.exists() else 0


@pytest.fixture
def clinic(tmp_path: Path, cli, store: Store, store_url: str,  # type: ignore[no-untyped-def]
           monkeypatch: pytest.MonkeyPatch) -> Clinic:
    """`demo reset` and a first sync: 288 visits of source demo-csv, their reminders planned."""
    monkeypatch.setenv("CLINICSYNC_STORE_URL", store_url)  # the embedded settings read it
    made = Clinic(tmp_path, cli)
    # From the clinic's today: visits today or tomorrow on every weekday (the sample skips
    # Sundays), so the doctors' agendas are planned whatever day the suite runs.
    made.run("demo", "reset", "--date", "today")
    first = made.json("sync", "--once")
    assert first["connectors"][OLD]["created"] == 288
    return made


def test_a_renamed_source_is_refused_until_source_rename_then_nothing_is_doubled(clinic: Clinic) -> None:
    pending, events = clinic.pending(), clinic.events()
    # Fewer late in the clinic's day: the sample starts today, and visits already begun get no reminder.
    assert pending > 500 and sum(events.values()) > 250 and set(events) == {(OLD, "CONFIRMED")}

    clinic.rename_in_settings(OLD, NEW)
    report = clinic.json("sync", "--once", expect=1)
    refused = report["connectors"][NEW]
    assert refused["created"] == 0 and refused["fetched"] == 0
    error = refused["error"]
    assert error.startswith("refused: first run of source 'clinic-csv'") and f"'{OLD}'" in error
    assert f"clinicsync source rename {OLD} {NEW}" in error and f"clinicsync source retire {OLD}" in error
    assert [o["connector"] for o in report["orphaned_sources"]["sources"]] == [OLD]
    assert clinic.pending() == pending and clinic.events() == events  # main: 2,120 pending, two events a visit

    status = clinic.json("status")
    states = {row["connector"]: row["state"] for row in status["connectors"]}
    assert states[OLD] == "not in settings" and states[NEW].startswith("failed")
    orphaned = [s for s in status["stalls"] if s["kind"] == "source_orphaned"]
    assert [s["subject"] for s in orphaned] == [OLD]
    assert f"{pending} pending message(s)" in orphaned[0]["detail"]
    assert "source rename" in orphaned[0]["detail"] and "source retire" in orphaned[0]["detail"]

    checked = clinic.json("check", "--offline", "--allow-quarantined", expect=1)
    assert [(f["part"], f["level"]) for f in checked["findings"] if OLD in f["message"]] == [("sources", "error")]

    moved = clinic.json("source", "rename", OLD, NEW)
    assert moved["moved"]["appointment"] == 288 and moved["moved"]["reminder"] > pending
    assert {"connectorstate", "connectorbaseline", "patient", "practitioner", "quarantine", "syncrun"} <= set(
        moved["moved"])
    assert clinic.json("source", "rename", OLD, NEW)["moved"] == {}  # idempotent: done before
    _, out, _ = clinic.run("source", "rename", OLD, NEW)
    assert "nothing to move" in out

    after = clinic.json("sync", "--once")
    counts = after["connectors"][NEW]
    assert counts["error"] is None and counts["created"] == counts["updated"] == 0
    assert after["reminders"]["planned"] == 0 and "orphaned_sources" not in after
    calendar = after["calendar"]
    # Each event stays where it is: updated in place once, as its source marker names the new source.
    assert calendar["inserted"] == calendar["deleted"] == 0
    assert clinic.pending() == pending
    assert clinic.events() == Counter({(NEW, "CONFIRMED"): sum(events.values())})
    assert not [s for s in clinic.json("status")["stalls"] if s["kind"] == "source_orphaned"]
    assert not [f for f in clinic.json("check", "--offline", "--allow-quarantined")["findings"]
                if f["part"] == "sources"]
    rows = clinic.reminders()
    assert {r["appointment"].split(":")[0] for r in rows if r["appointment"]} == {NEW}
    agendas = [r["key"] for r in rows if r["kind"] == "agenda"]  # a doctor's day's key names the source
    assert agendas and all(key.startswith(f"agenda:{NEW}:") for key in agendas)
    assert clinic.json("sync", "--once")["calendar"]["patched"] == 0  # once, not at every run


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_refusals_of_rename_name_the_key_and_change_nothing(clinic: Clinic) -> None:
    _, _, err = clinic.run("source", "rename", OLD, NEW, expect=1)
    assert f"'{NEW}' is not a source in the settings" in err
    clinic.rename_in_settings(OLD, NEW)
    clinic.json("sync", "--once", expect=1)
    _, _, err = clinic.run("source", "rename", "demo-cvs", NEW, expect=1)
    assert "holds nothing of source 'demo-cvs' (a typo?)" in err and OLD in err
    _, _, err = clinic.run("source", "retire", NEW, expect=1)
    assert f"'{NEW}' is still a source in the settings" in err
    clinic.rename_in_settings(NEW, OLD)  # back, and NEW added as a second source that imports
    text = clinic.settings.read_text()
    clinic.settings.write_text(text.replace("\nnotifiers:", f"\n  - name: {NEW}\n    kind: csv\n"
                                            "    mapping: csv_default\n    drop_dir: examples/drop\n"
                                            "    settle_seconds: 0\n\nnotifiers:"))
    clinic.json("sync", "--once")  # no orphan: a second source's first run is not refused
    clinic.settings.write_text(clinic.settings.read_text().replace(f"- name: {OLD}\n", "- name: gone\n"))
    _, _, err = clinic.run("source", "rename", OLD, NEW, expect=1)
    assert f"'{NEW}' already has rows in the store (" in err and "appointment" in err


# SQLite only: what this adds to the rename's run (messages held by the dispatcher, retire_source's
# plain UPDATE/INSERT, the calendar dropping a retired source's events) has no dialect branch; the
# same CLI sync, calendar and reminder writes run on PostgreSQL in the renamed source's test above.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_removed_source_holds_its_messages_until_it_is_retired(clinic: Clinic) -> None:
    events = clinic.events()
    clinic.remove_the_source()
    at = next_eight_in_new_york().astimezone(UTC)
    dispatched = clinic.json("remind", "--once", "--at", at.isoformat())
    assert dispatched["sent"] == 0 and dispatched["deferred"] > 0  # main: sent to every patient
    assert clinic.sent_files() == 0
    held = [r for r in clinic.reminders("pending") if (r["reason"] or "").startswith("held:")]
    # Every message due is held, none sent; "deferred" also counts those quiet hours put off
    # (after 08:00 in New York `at` is tomorrow's 08:00, when some are still in their quiet hours).
    assert 0 < len(held) <= dispatched["deferred"]
    assert f"its source '{OLD}' is no longer in the settings" in held[0]["reason"]
    assert f"clinicsync source retire {OLD}" in held[0]["reason"]
    stalls = [s for s in clinic.json("status")["stalls"] if s["kind"] == "source_orphaned"]
    assert [s["subject"] for s in stalls] == [OLD]
    _, out, _ = clinic.run("source", "list")
    assert OLD in out and "source retire" in out

    pending = clinic.pending()
    retired = clinic.json("source", "retire", OLD)
    assert retired["cancelled"] == pending and not retired["already"]
    again = clinic.json("source", "retire", OLD)
    assert again["already"] and again["cancelled"] == 0
    cancelled = clinic.reminders("cancelled")
    assert len(cancelled) == pending and all("retired" in r["reason"] for r in cancelled)
    assert not [s for s in clinic.json("status")["stalls"] if s["kind"] == "source_orphaned"]

    report = clinic.json("sync", "--once")
    assert report["calendar"]["deleted"] == sum(events.values())
    assert clinic.events() == Counter({(OLD, "CANCELLED"): sum(events.values())})  # subscribers drop them
    assert clinic.json("remind", "--once", "--at", (at + timedelta(hours=1)).isoformat())["sent"] == 0
    assert clinic.sent_files() == 0  # nobody told
    assert report["reminders"]["planned"] == 0


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_typo_fixed_loses_nothing(clinic: Clinic) -> None:
    clinic.rename_in_settings(OLD, "demo-cvs")
    clinic.json("sync", "--once", expect=1)  # the typo's first run: refused
    at = next_eight_in_new_york().astimezone(UTC)
    clinic.json("remind", "--once", "--at", at.isoformat())
    held = len([r for r in clinic.reminders("pending") if (r["reason"] or "").startswith("held:")])
    assert held > 0 and clinic.sent_files() == 0
    clinic.rename_in_settings("demo-cvs", OLD)
    back = clinic.json("sync", "--once")
    assert back["connectors"][OLD]["created"] == 0 and back["reminders"]["planned"] == 0
    released = clinic.json("remind", "--once", "--at", (at + timedelta(minutes=10)).isoformat())
    sent = released["sent"]
    # Each held message goes now, is skipped as too late (its visit began at 08:00), or waits for
    # the end of its own quiet hours (a satellite's patients are an hour behind New York).
    assert sent > 0 and sent + released["skipped"] + released["deferred"] >= held
    assert clinic.sent_files() == sent
    assert not [r for r in clinic.reminders("pending") if (r["reason"] or "").startswith("held:")]


# -- the store's side, on every database ---------------------------------------------------------


def _synced(store: Store, connector: str, *, days: int = 3, agenda_day: str = "2026-12-01") -> None:
    """What a sync of ``connector`` leaves: a run, a future visit with its patient, an agenda."""
    from sqlalchemy import insert

    from clinicsync.common.types import utcnow
    from clinicsync.sync.store.tables import REMINDERS, SYNC_RUNS
    from tests.sync.reminders.conftest import appointment, put

    now = utcnow()
    put(store, appointment(f"{connector}-A1", now + timedelta(days=days)), connector=connector)
    with store.engine.begin() as connection:
        connection.execute(insert(SYNC_RUNS).values(run_id="r1", connector=connector, status="ok", counts="{}",
                                                    started_at=now, finished_at=now))
        connection.execute(insert(REMINDERS).values(
            key=f"agenda:{connector}:D1:{agenda_day}", connector=connector, recipient="practitioner",
            recipient_ref="D1", kind="agenda", offset=agenda_day, due_at=now + timedelta(days=1),
            status="pending", tried="", attempts=0, version=0, created_at=now, updated_at=now))


def _rename_on(store: Store) -> None:
    from clinicsync.sync.ingest.orphans import Orphan, find_orphans, known_sources, rename_source

    _synced(store, "emr")
    _synced(store, OLD)
    with store.engine.connect() as connection:
        assert known_sources(connection) == [OLD, "emr"]
        assert find_orphans(connection, {"emr", NEW}) == [Orphan(OLD, 1, 1)]
    moved = rename_source(store.engine, OLD, NEW, {"emr", NEW})
    assert {"appointment": 1, "patient": 1, "practitioner": 1, "syncrun": 1, "reminder": 1}.items() <= \
        moved.moved.items()
    with store.engine.connect() as connection:
        assert known_sources(connection) == [NEW, "emr"]
        assert find_orphans(connection, {"emr", NEW}) == []
        from sqlalchemy import select

        from clinicsync.sync.store.tables import REMINDERS
        keys = set(connection.execute(select(REMINDERS.c.key)).scalars())
    assert keys == {"agenda:emr:D1:2026-12-01", f"agenda:{NEW}:D1:2026-12-01"}


def test_the_sources_are_read_and_renamed_on_sqlite_and_postgresql(store: Store) -> None:
    _rename_on(store)


@pytest.mark.mariadb
def test_the_sources_are_read_and_renamed_on_mariadb(mariadb_store: Store) -> None:
    _rename_on(mariadb_store)


def test_the_sources_are_read_from_the_index_not_by_a_scan(store: Store) -> None:
    """One index probe per source, whatever the run history holds (issue 32): the loose scan
    searches an index led by the connector and scans no table (PostgreSQL's plan read with
    enable_seqscan off, as tests/sync/test_query_plans.py reads them)."""
    from sqlalchemy import text

    from clinicsync.sync.ingest.orphans import _SOURCES

    with store.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            plan = [row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + str(_SOURCES))]
            assert not [step for step in plan if step.startswith("SCAN syncrun")], plan
        else:
            connection.exec_driver_sql("SET enable_seqscan = off")
            plan = [row[0] for row in connection.execute(text("EXPLAIN " + str(_SOURCES)))]
            assert not [step for step in plan if "Seq Scan" in step], plan
    # an index led by the connector (PostgreSQL may take ix_syncrun_connector_status_id for a small table)
    assert any("ix_syncrun_connector_" in step for step in plan), plan


def _only_past(store: Store, connector: str, days_ago: float) -> None:
    """A source whose last visit started ``days_ago`` and that has nothing ahead (its run kept)."""
    from sqlalchemy import insert

    from clinicsync.common.types import utcnow
    from clinicsync.sync.store.tables import SYNC_RUNS
    from tests.sync.reminders.conftest import appointment, put

    now = utcnow()
    put(store, appointment(f"{connector}-P1", now - timedelta(days=days_ago)), connector=connector)
    with store.engine.begin() as connection:
        connection.execute(insert(SYNC_RUNS).values(run_id=f"r-{connector}", connector=connector, status="ok",
                                                    counts="{}", started_at=now, finished_at=now))


def _recent_visits_on(store: Store) -> None:
    from clinicsync.sync.ingest.orphans import Orphan, find_orphans, first_run_refusal

    _only_past(store, OLD, days_ago=5)  # on the calendars (calendar.past_days: 30)
    _only_past(store, "gone", days_ago=45)  # removed long ago: nothing of it is shown any more
    with store.engine.connect() as connection:
        [orphan] = find_orphans(connection, {NEW})
        assert orphan == Orphan(OLD, 0, 0, 1) and orphan.visits == 1
        assert "1 visit(s) of the last 31 days still on the calendars" in orphan.detail
        refusal = first_run_refusal(connection, NEW, {NEW})
    assert refusal is not None and f"source rename {OLD} {NEW}" in refusal and "1 recent visit(s)" in refusal


def test_a_renamed_source_with_only_recent_visits_is_an_orphan(store: Store) -> None:
    """The simulation (seed 523, 120 days): a source renamed on an evening when its last future
    visit had passed was no orphan on main, so its new name imported the visits of the last days
    again as new, and each doctor's calendar showed each of them twice."""
    _recent_visits_on(store)


@pytest.mark.mariadb
def test_a_renamed_source_with_only_recent_visits_is_an_orphan_on_mariadb(mariadb_store: Store) -> None:
    _recent_visits_on(mariadb_store)


def test_a_clinic_with_a_longer_calendar_window_is_protected_over_all_of_it(
        store: Store, write_settings: Callable[..., Path]) -> None:
    """``calendar.past_days: 60``: the doctors' calendars show the visits of the last 60 days,
    so a source renamed 45 days after its last visit would put that visit on them twice. On
    main the window was a fixed 31 days, so the new name's first run was not refused."""
    from clinicsync.sync.config.settings import load_settings
    from clinicsync.sync.ingest.engine import DoubleImportRefused, _refuse_double_import

    _only_past(store, OLD, days_ago=45)
    connector = f"- name: {NEW}\n  kind: rest_api\n  api_keys: [{{name: site, sha256: {'a' * 64}}}]\n"
    wide = load_settings(write_settings(connectors=connector, extra="calendar:\n  past_days: 60\n"))
    with pytest.raises(DoubleImportRefused, match=r"1 recent visit\(s\) on the calendars"):
        _refuse_double_import(wide, store, NEW)
    # The default window (30 days) leaves a visit of 45 days ago alone: the new name may import.
    _refuse_double_import(load_settings(write_settings(connectors=connector)), store, NEW)
