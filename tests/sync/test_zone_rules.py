"""A tz database rule change keeps stored visits at their local time (sync/store/zonerules.py).

The rule change is simulated without touching the system: ``zic`` compiles a zone "Test/Clinic"
into a temporary folder that zoneinfo is pointed at (``reset_tzpath``), first with US-style
daylight saving, then with daylight saving abolished from 2026-12-01 (as Mexico did in 2022),
each with its own version line (the fingerprints' epoch reads it, sync/ingest/fingerprint.py). The
per-process caches of zones and rules are cleared as a restart after a tzdata update would.

A CSV snapshot source and an incremental SQL source (SQLite) hold future visits at 09:00 local.
After the change: each visit's stored UTC gives 09:00 again under the new rules, no patient is
told of a move, the .ics calendar shows 09:00, the reminders are planned for the corrected
time; the snapshot's re-mapped records are unchanged (no event); a run with no rule change
writes nothing."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import zoneinfo
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from clinicsync.common import timeutil
from clinicsync.mappings import engine as mapping_engine
from clinicsync.sync.calendar import ics_text, vtimezone
from clinicsync.sync.checks.queries import zone_rules_status
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.ingest import fingerprint
from clinicsync.sync.reminders import timing
from clinicsync.sync.service.pipeline import run_once
from clinicsync.sync.store import zonerules
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.outbox import EVENTS
from clinicsync.sync.store.store import Store

ZONE = "Test/Clinic"
A = Appointment.__table__  # type: ignore[attr-defined]
WITH_DST = """\
Rule\tTst\t2007\tmax\t-\tMar\tSun>=8\t2:00\t1:00\tD
Rule\tTst\t2007\tmax\t-\tNov\tSun>=1\t2:00\t0\tS
Zone\tTest/Clinic\t-6:00\tTst\tC%sT
"""
DST_ABOLISHED = """\
Rule\tTst\t2007\tmax\t-\tMar\tSun>=8\t2:00\t1:00\tD
Rule\tTst\t2007\tmax\t-\tNov\tSun>=1\t2:00\t0\tS
Zone\tTest/Clinic\t-6:00\tTst\tC%sT\t2026 Dec 1
\t\t\t-6:00\t-\tCST
"""
# Summer visits (daylight saving under the first rules, not under the second) and one in winter.
CSV_VISITS = {"c1": "2027-06-14 09:00", "c2": "2027-07-01 09:00", "c3": "2027-01-12 09:00"}
SQL_VISITS = {"s1": "2027-06-15 09:00", "s2": "2027-08-02 09:00", "s3": "2027-02-03 09:00"}
CSV_HEADER = ("appointment_id,start,duration_minutes,status,patient_id,patient_name,patient_phone,doctor_id,"
              "doctor_email\n")


def _clear_zone_caches() -> None:
    """What a restart after a tzdata update clears: each per-process cache of zones and rules."""
    zoneinfo.ZoneInfo.clear_cache()
    timeutil.zone.cache_clear()
    fingerprint._code_digest.cache_clear()
    zonerules.current_rules.cache_clear()
    zonerules.tz_data_versions.cache_clear()
    timing._wall_clock.cache_clear()
    ics_text.tzid_for.cache_clear()
    vtimezone.vtimezone.cache_clear()
    mapping_engine._COMPILED.clear()  # compiled mappings keep a memo of wall times and their UTC


@pytest.fixture
def tz_rules(tmp_path: Path) -> Iterator[Callable[[str, str], None]]:
    """``install(source, version)``: compile ``source`` with zic into a tz folder zoneinfo reads."""
    zic = shutil.which("zic") or ("/usr/sbin/zic" if Path("/usr/sbin/zic").exists() else None)
    if zic is None:
        pytest.skip("zic (the tz compiler, libc-bin) is not installed")
    folder = tmp_path / "zoneinfo"

    def install(source: str, version: str) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        (tmp_path / "rules.zi").write_text(source, encoding="utf-8")
        subprocess.run([zic, "-d", str(folder), str(tmp_path / "rules.zi")], check=True)
        (folder / "tzdata.zi").write_text(f"# version {version}\n", encoding="utf-8")
        zoneinfo.reset_tzpath(to=[str(folder)])
        _clear_zone_caches()

    yield install
    zoneinfo.reset_tzpath()
    _clear_zone_caches()


def _csv_row(external_id: str, start: str, n: int) -> str:
    return f"{external_id},{start},30,booked,p{n},Patient {n},+1212555{n:04d},dr-a,dr.a@clinic.example.org\n"


def _drop_csv(drop: Path, name: str, visits: dict[str, str]) -> None:
    text = CSV_HEADER + "".join(_csv_row(k, v, i + 1) for i, (k, v) in enumerate(visits.items()))
    (drop / name).write_text(text, encoding="utf-8")


def _sql_source(path: Path) -> str:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE visits (appointment_id TEXT PRIMARY KEY, start TEXT, duration_minutes INTEGER, "
                   "status TEXT, patient_id TEXT, patient_name TEXT, patient_phone TEXT, doctor_id TEXT, "
                   "doctor_email TEXT, updated_at TEXT)")
        db.executemany("INSERT INTO visits VALUES (?, ?, 30, 'booked', ?, ?, ?, 'dr-a', 'dr.a@clinic.example.org', "
                       "'2026-11-01 10:00:00')",
                       [(k, v, f"q{i}", f"Patient Q{i}", f"+1212556{i:04d}") for i, (k, v) in
                        enumerate(SQL_VISITS.items(), start=1)])
    return f"sqlite:///{path}"


@pytest.fixture
def clinic(tz_rules: Callable[[str, str], None], write_settings: Any, tmp_path: Path) -> Any:
    tz_rules(WITH_DST, "2099a")
    drop = tmp_path / "drop"
    drop.mkdir()
    url = _sql_source(tmp_path / "source.db")
    outbox = tmp_path / "outbox"
    path = write_settings(f"""\
        - name: desk
          kind: csv
          mapping: csv_default
          drop_dir: {drop}
          mode: snapshot
          settle_seconds: 0
          timezone: {ZONE}
        - name: ehr
          kind: sql
          mapping: csv_default
          url: "{url}"
          table: visits
          cursor_column: updated_at
          timezone: {ZONE}
        """, extra=f"""\
        notifiers:
          - {{name: outbox, kind: outbox, directory: "{outbox}"}}
        reminders:
          offsets: [1d]
          channels: [sms]
          routes: {{sms: outbox, email: outbox, whatsapp: outbox}}
          agenda: {{enabled: false}}
        calendar:
          provider: ics
          ics: {{directory: calendars}}
        """, timezone=ZONE)
    return drop, path


def _visits(store: Store) -> dict[str, Any]:
    with store.engine.connect() as connection:
        return {r.external_id: r for r in connection.execute(select(A))}


def _wall(moment: datetime) -> str:
    return moment.astimezone(timeutil.zone(ZONE)).strftime("%Y-%m-%d %H:%M")


def _patient_rows(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(REMINDERS).where(REMINDERS.c.recipient == "patient")))


def _event_count(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(EVENTS)).scalar_one())


def _ics_text(path: Path) -> str:
    return "".join(f.read_text(encoding="utf-8") for f in sorted((path.parent / "calendars").glob("*.ics")))


def test_a_rule_change_keeps_every_future_visit_at_its_local_time(
        clinic: Any, tz_rules: Callable[[str, str], None], store: Store) -> None:
    drop, path = clinic
    _drop_csv(drop, "export-1.csv", CSV_VISITS)
    settings = load_settings(path)
    first = run_once(settings, store)
    assert not first.failed, first.as_dict()
    before = _visits(store)
    assert {k: _wall(v.start_utc) for k, v in before.items()} == {**CSV_VISITS, **SQL_VISITS}
    assert zone_rules_status(store) == {"zones": 1, "corrections": []}  # recorded, nothing corrected

    # The tz database is updated: daylight saving abolished from 2026-12-01.
    tz_rules(DST_ABOLISHED, "2099b")
    settings = load_settings(path)
    # The next export lists the same visits and one new booking.
    _drop_csv(drop, "export-2.csv", {**CSV_VISITS, "c4": "2027-09-01 09:00"})
    second = run_once(settings, store)
    assert not second.failed, second.as_dict()

    after = _visits(store)
    assert {k: _wall(v.start_utc) for k, v in after.items()} == {**CSV_VISITS, **SQL_VISITS, "c4": "2027-09-01 09:00"}
    summer = {"c1", "c2", "s1", "s2"}
    for key in summer:  # an hour later in UTC: 09:00 at UTC-6 now, not UTC-5
        assert after[key].start_utc - before[key].start_utc == timedelta(hours=1), key
        assert after[key].end_utc - after[key].start_utc == timedelta(minutes=30)
        assert after[key].version == before[key].version + 1  # one correction, no further change
    for key in ("c3", "s3"):  # winter: the same offset under both rules, untouched
        assert after[key].start_utc == before[key].start_utc and after[key].version == before[key].version
    assert second.extras["zone_rules"] == {"corrected": [{"zone": ZONE, "corrected": 4, "left": 0}]}
    assert second.connectors["desk"].counts.updated == 0 and second.connectors["desk"].counts.rescheduled == 0

    # Nobody is told their visit moved; the reminders go at the corrected times.
    rows = _patient_rows(store)
    assert not [r for r in rows if r.kind == "rescheduled"]
    pending = {(r.appointment_id, r.starts_at) for r in rows if r.kind == "reminder" and r.status == "pending"}
    for key in summer:
        assert (after[key].id, after[key].start_utc) in pending, key
        assert (after[key].id, before[key].start_utc) not in pending, key
    # The calendar shows each visit at 09:00 local.
    calendar = _ics_text(path)
    for key, start in {**CSV_VISITS, **SQL_VISITS}.items():
        assert f"DTSTART;TZID={ZONE}:{start[:10].replace('-', '')}T090000" in calendar, key
    status = zone_rules_status(store)
    assert [(c["zone"], c["corrected"], c["left"]) for c in status["corrections"]] == [(ZONE, 4, 0)]

    # The next run, the rules unchanged: nothing written, and the check is one small read.
    events = _event_count(store)
    _drop_csv(drop, "export-3.csv", {**CSV_VISITS, "c4": "2027-09-01 09:00", "c5": "2027-09-02 09:00"})
    third = run_once(settings, store)
    assert "zone_rules" not in third.extras
    again = _visits(store)
    assert {k: (v.version, v.start_utc, v.content_hash) for k, v in again.items() if k != "c5"} == \
        {k: (v.version, v.start_utc, v.content_hash) for k, v in after.items()}
    assert _event_count(store) == events + 1  # c5's "created" only
    # Counted in statements, not timed (a loaded machine stretches any time): once the first
    # check has marked these rules checked, a later one in another process is one read of that
    # mark, never of the zones' rules, and one in this process (each poll of `clinicsync run`)
    # sends nothing: the mark is remembered for this store.
    assert zonerules.check_zone_rules(store) == []
    statements: list[str] = []
    listener = lambda _conn, _cursor, statement, *_rest: statements.append(" ".join(statement.split()))  # noqa: E731
    event.listen(store.engine, "before_cursor_execute", listener)
    try:
        for _ in range(20):
            assert zonerules.check_zone_rules(store) == []
        assert statements == []
        zonerules._CHECKED.clear()  # another process: the mark is read from the store
        assert zonerules.check_zone_rules(store) == []
    finally:
        event.remove(store.engine, "before_cursor_execute", listener)
    assert len(statements) == 1, statements[:4]
    assert statements[0].startswith("SELECT") and "FROM housekeeping " in statements[0], statements


def test_the_re_mapped_record_is_unchanged_only_when_it_is(
        clinic: Any, tz_rules: Callable[[str, str], None], store: Store) -> None:
    """After a correction, a snapshot row that did change (another type) is still an update, and
    one whose time changed is still a reschedule with its notice."""
    drop, path = clinic
    _drop_csv(drop, "export-1.csv", CSV_VISITS)
    run_once(load_settings(path), store)
    before = _visits(store)
    tz_rules(DST_ABOLISHED, "2099b")
    moved = {**CSV_VISITS, "c2": "2027-07-01 10:00"}
    _drop_csv(drop, "export-2.csv", moved)
    report = run_once(load_settings(path), store)
    after = _visits(store)
    assert _wall(after["c2"].start_utc) == "2027-07-01 10:00"
    assert report.connectors["desk"].counts.rescheduled == 1
    assert after["c1"].version == before["c1"].version + 1  # corrected only
    told = [r for r in _patient_rows(store) if r.kind == "rescheduled"]
    assert [r.appointment_id for r in told] == [after["c2"].id]


def test_rules_are_recorded_once_and_a_visit_in_a_new_gap_is_left(
        tz_rules: Callable[[str, str], None], store: Store) -> None:
    """The first check records the rules; a zone whose new rules put a stored local time in a gap
    leaves that visit as it was and counts it (mapping would refuse that wall time too)."""
    tz_rules(WITH_DST, "2099a")
    now = datetime(2026, 11, 26, tzinfo=UTC)
    with store.engine.begin() as connection:
        zonerules.note_zones(connection, [ZONE], set(), now)
    # A visit at 02:30 local on 2027-05-01 (UTC-5 under the first rules).
    start = datetime(2027, 5, 1, 7, 30, tzinfo=UTC)
    _insert_visit(store, "gap", start)
    _insert_visit(store, "fine", datetime(2027, 5, 1, 14, tzinfo=UTC))  # 09:00 local
    # New rules: the zone moves to UTC-5 all year at 2027-05-01 02:00 (02:00-03:00 does not exist).
    tz_rules("Zone\tTest/Clinic\t-6:00\t-\tCST\t2027 May 1 2:00\n\t\t\t-5:00\t-\tCDT\n", "2099c")
    [done] = zonerules.check_zone_rules(store, now=now)
    assert (done.corrected, done.left) == (0, 1)  # "fine" is 09:00 at UTC-5 under both
    visits = _visits(store)
    assert visits["gap"].start_utc == start and visits["gap"].version == 1
    assert zonerules.check_zone_rules(store, now=now) == []


def _insert_visit(store: Store, external_id: str, start: datetime) -> None:
    with store.engine.begin() as connection:
        connection.execute(A.insert().values(
            connector="desk", external_id=external_id, status="booked", start_utc=start,
            end_utc=start + timedelta(minutes=30), timezone=ZONE, content_hash="x", version=1,
            created_at=start - timedelta(days=30), updated_at=start - timedelta(days=30)))


def test_an_offset_sent_with_the_old_rules_keeps_the_corrected_time(
        clinic: Any, tz_rules: Callable[[str, str], None], store: Store) -> None:
    """A source that sends an offset (as FHIR does) computed it with its own tz data: the visit is
    corrected like the others, and the same record sent again with the offset of the old rules (an
    EHR not updated yet) is the stored record unchanged: the corrected time stays, nobody is told."""
    drop, path = clinic
    offset = {"o1": "2027-06-16T09:00:00-05:00"}
    _drop_csv(drop, "export-1.csv", offset)
    run_once(load_settings(path), store)
    before = _visits(store)["o1"]
    tz_rules(DST_ABOLISHED, "2099b")
    _drop_csv(drop, "export-2.csv", {**offset, "o2": "2027-09-01 09:00"})
    report = run_once(load_settings(path), store)
    after = _visits(store)["o1"]
    assert _wall(after.start_utc) == "2027-06-16 09:00"
    assert after.start_utc - before.start_utc == timedelta(hours=1)
    assert report.connectors["desk"].counts.unchanged == 1
    assert report.connectors["desk"].counts.rescheduled == report.connectors["desk"].counts.updated == 0
    assert not [r for r in _patient_rows(store) if r.kind == "rescheduled"]


def test_a_zone_the_tz_database_no_longer_knows_is_left(tz_rules: Callable[[str, str], None], store: Store) -> None:
    """A stored zone missing from the tz database (a zone renamed away) stops no run."""
    tz_rules(WITH_DST, "2099a")
    with store.engine.begin() as connection:
        connection.execute(zonerules.RULES.insert().values(zone="Gone/Away", corrected=0, left=0))
    assert zonerules.check_zone_rules(store, [ZONE]) == []
    assert zone_rules_status(store)["zones"] == 2
    with store.engine.connect() as connection:  # recorded: the next checks take no lock and write nothing
        assert all(zonerules._unchanged(r.zone, r.transitions, datetime.now(UTC))
                   for r in connection.execute(select(zonerules.RULES)))


def test_a_reminder_already_sent_stands_for_the_corrected_time(
        clinic: Any, tz_rules: Callable[[str, str], None], store: Store) -> None:
    """A reminder sent before the correction told 09:00 local, which the visit still is: its
    offset is not planned again for the corrected start, and its answer link still shows the
    visit rather than "changed since this message was sent"."""
    from sqlalchemy import update

    from clinicsync.sync.responses.link_page import moved

    drop, path = clinic
    _drop_csv(drop, "export-1.csv", CSV_VISITS)
    run_once(load_settings(path), store)
    before = _visits(store)["c1"]
    with store.engine.begin() as connection:
        connection.execute(update(REMINDERS).where(REMINDERS.c.appointment_id == before.id,
                                                   REMINDERS.c.kind == "reminder").values(status="sent"))
    tz_rules(DST_ABOLISHED, "2099b")
    _drop_csv(drop, "export-2.csv", CSV_VISITS)
    run_once(load_settings(path), store)
    after = _visits(store)["c1"]
    assert after.start_utc - before.start_utc == timedelta(hours=1)
    rows = [r for r in _patient_rows(store) if r.appointment_id == after.id and r.kind == "reminder"
            and r.status != "cancelled"]
    assert [(r.status, r.starts_at) for r in rows] == [("sent", after.start_utc)]
    assert not moved(rows[0], after)


def test_an_unchanged_tz_database_skips_the_probe_and_another_version_corrects(
        tz_rules: Callable[[str, str], None], store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cron's `sync --once` is a new process every few minutes: a check that found the rules as
    recorded is remembered for the tz database's version, the zones and the span's year, and the
    daily probe over eleven years (~3 ms a zone) is not made again while they are the same. What
    it trusts is the version: new rules under the same version line are not looked for (a tz data
    update always brings a new one); another version checks, and corrects."""
    tz_rules(WITH_DST, "2099a")
    now = datetime(2026, 11, 26, tzinfo=UTC)
    assert zonerules.check_zone_rules(store, [ZONE], now=now) == []  # records the rules
    summer = datetime(2027, 6, 14, 14, tzinfo=UTC)  # 09:00 at UTC-5
    _insert_visit(store, "summer", summer)
    probes: list[str] = []
    real = zonerules.current_rules

    def counted(name: str, *span: int) -> zonerules.Rules:
        probes.append(name)
        return real(name, *span)

    counted.cache_clear = real.cache_clear  # type: ignore[attr-defined]  # a restart's (tz_rules)
    monkeypatch.setattr(zonerules, "current_rules", counted)
    assert zonerules.check_zone_rules(store, [ZONE], now=now) == []
    assert zonerules.check_zone_rules(store, [ZONE], now=now + timedelta(days=20)) == []
    assert probes == []  # the same tz database, zones and year: no probe
    tz_rules(DST_ABOLISHED, "2099a")  # new rules, the same version line: trusted, not probed
    assert zonerules.check_zone_rules(store, [ZONE], now=now) == [] and probes == []
    assert _visits(store)["summer"].start_utc == summer
    tz_rules(DST_ABOLISHED, "2099b")  # the same rules under a new version line
    [done] = zonerules.check_zone_rules(store, [ZONE], now=now)  # another version: probed and corrected
    assert (done.zone, done.corrected, done.left) == (ZONE, 1, 0) and probes
    assert _wall(_visits(store)["summer"].start_utc) == "2027-06-14 09:00"
    probes.clear()
    assert zonerules.check_zone_rules(store, [ZONE], now=now) == [] and probes == []  # that check is remembered
    assert zonerules.check_zone_rules(store, [ZONE, "Europe/Berlin"], now=now) == []  # another zone: checked
    assert "Europe/Berlin" in probes and zone_rules_status(store)["zones"] == 2


def test_a_tz_folder_without_a_version_is_checked_at_every_run(
        tz_rules: Callable[[str, str], None], tmp_path: Path) -> None:
    """A folder of zones without a ``tzdata.zi`` version line: an update of it could not be
    told, so nothing is skipped (None: every run probes, as before)."""
    tz_rules(WITH_DST, "2099a")
    assert zonerules.tz_data_versions() is not None
    (tmp_path / "zoneinfo" / "tzdata.zi").unlink()
    zonerules.tz_data_versions.cache_clear()
    assert zonerules.tz_data_versions() is None
    assert zonerules.checked_key([ZONE], datetime.now(UTC)) is None
