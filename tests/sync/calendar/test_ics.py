"""Provider `ics`: one RFC 5545 file per doctor that calendar apps (and icalendar) read."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

from clinicsync.sync.calendar.ics import IcsCalendar, uid_for
from clinicsync.sync.calendar.provider import Target, event_id
from clinicsync.sync.calendar.push import push
from clinicsync.sync.cli.demo import generate_rows, write_csv
from clinicsync.sync.config.settings.calendar import CalendarSettings
from clinicsync.sync.store.store import Store
from tests.conftest import ROOT
from tests.sync.calendar.helpers import DOCTORS, apply, appointment, base_time, moved

AMELIA = DOCTORS["D01"][1]


def events_of(path: Path) -> dict[str, dict[str, object]]:
    calendar = Calendar.from_ical(path.read_bytes())
    return {str(e["uid"]): {"status": str(e["status"]), "sequence": int(e["sequence"]),
                            "start": e.decoded("dtstart"), "summary": str(e["summary"])}
            for e in calendar.walk("VEVENT")}


@pytest.fixture
def ics_settings(tmp_path: Path) -> CalendarSettings:
    return CalendarSettings.model_validate({"provider": "ics", "ics": {"directory": "calendars"}},
                                           context={"base_dir": tmp_path})


def run(settings: CalendarSettings, store: Store) -> dict[str, int]:
    return push(settings, store.engine, IcsCalendar(settings.ics)).as_dict()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_files_per_doctor_with_stable_uids_and_sequence(ics_settings: CalendarSettings, store: Store,
                                                        tmp_path: Path) -> None:
    a1 = appointment("A1")
    apply(store, a1, appointment("A2", doctor="D02", timezone="America/Chicago"))
    assert run(ics_settings, store)["inserted"] == 2
    files = sorted(p.name for p in (tmp_path / "calendars").iterdir())
    assert files == [f"{AMELIA}.ics", f"{DOCTORS['D02'][1]}.ics"]
    path = tmp_path / "calendars" / f"{AMELIA}.ics"
    uid = uid_for(event_id("csv", "A1"))
    [(found_uid, event)] = events_of(path).items()
    assert found_uid == uid and event["status"] == "CONFIRMED" and event["sequence"] == 0
    assert str(event["start"].tzinfo) == "America/New_York" and event["start"] == a1.start
    calendar = Calendar.from_ical(path.read_bytes())
    assert [str(t["tzid"]) for t in calendar.walk("VTIMEZONE")] == ["America/New_York"]
    zone = path.read_bytes().split(b"BEGIN:VTIMEZONE")[1].split(b"END:VTIMEZONE")[0]
    # yearly rules, not transitions listed to 2038, and no caveat (only the zone is looked at: an
    # event's hash or UID is hex, which may hold the digits 2038)
    assert b"RRULE:FREQ=YEARLY" in zone and b"2038" not in zone and b"COMMENT" not in path.read_bytes()

    apply(store, moved(a1, 60))
    assert run(ics_settings, store)["patched"] == 1
    event = events_of(path)[uid]
    assert event["sequence"] == 1 and event["start"] == a1.start + timedelta(minutes=60)

    apply(store, appointment("A1", start=a1.start + timedelta(minutes=60), status="cancelled"))
    assert run(ics_settings, store)["deleted"] == 1
    event = events_of(path)[uid]
    assert event["status"] == "CANCELLED" and event["sequence"] == 2

    apply(store, moved(a1, 60))  # re-booked: the same UID comes back, newer than the cancellation
    assert run(ics_settings, store)["patched"] == 1
    event = events_of(path)[uid]
    assert event["status"] == "CONFIRMED" and event["sequence"] == 3
    assert len(events_of(path)) == 1
    assert run(ics_settings, store) == {"inserted": 0, "patched": 0, "deleted": 0, "unchanged": 2, "failed": 0,
                                        "skipped": 0}
    assert not list((tmp_path / "calendars").glob("*.part"))


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_list_events_reads_the_file_back(ics_settings: CalendarSettings, store: Store) -> None:
    apply(store, appointment("A1"), appointment("A2", start=base_time() + timedelta(hours=1)))
    run(ics_settings, store)
    provider = IcsCalendar(ics_settings.ics)
    events = provider.list_events(Target("ics", "", AMELIA), base_time() - timedelta(days=1))
    assert sorted(e.private["clinicsync_external_id"] for e in events) == ["A1", "A2"]
    assert all(not e.cancelled and e.start is not None for e in events)


def test_the_demo_writes_calendar_files_that_parse(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    drop = tmp_path / "drop"
    rows = generate_rows(date.today() + timedelta(days=1), "America/New_York")
    write_csv(rows, drop / "appointments.csv")
    settings = (ROOT / "settings.yaml").read_text().replace("drop_dir: examples/drop", f"drop_dir: {drop}")
    (tmp_path / "settings.yaml").write_text(settings)
    _, out, _ = cli(tmp_path / "settings.yaml")("sync", "--once", "--json")
    report = json.loads(out)
    created = report["connectors"]["demo-csv"]["created"]
    assert report["calendar"]["inserted"] > 200 and report["calendar"]["failed"] == 0
    files = sorted((tmp_path / ".clinicsync" / "calendars").glob("*.ics"))
    assert len(files) == 6  # one per doctor of the sample
    total = 0
    people = {r[k] for r in rows for k in ("patient_name", "patient_phone", "patient_email") if r[k]}
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not [p for p in people if p in text]  # privacy by default: initials only
        calendar = Calendar.from_ical(path.read_bytes())
        assert str(calendar["version"]) == "2.0" and calendar.walk("VTIMEZONE")
        events = calendar.walk("VEVENT")
        assert events and len({str(e["uid"]) for e in events}) == len(events)
        for event in events:
            assert event.decoded("dtend") > event.decoded("dtstart")
            assert str(event["status"]) == "CONFIRMED"
        total += len(events)
    assert total == report["calendar"]["inserted"] <= created


def test_reconcile_restores_a_lost_ics_file(tmp_path: Path, cli, write_settings) -> None:  # type: ignore[no-untyped-def]
    drop = tmp_path / "drop"
    drop.mkdir()
    day = (base_time() + timedelta(days=1)).date().isoformat()
    (drop / "a.csv").write_text("appointment_id,start,duration_minutes,status,type,doctor_id,doctor_email\n"
                                f"A1,{day} 09:00,30,booked,Follow-up,D01,{AMELIA}\n")
    config = write_settings(
        connectors=f"- name: csv\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop}\n  settle_seconds: 0\n",
        extra="calendar:\n  provider: ics\n  ics:\n    directory: calendars\n")
    run = cli(config)
    run("db", "upgrade")
    _, out, _ = run("calendar", "push", "--json")
    assert json.loads(out)["inserted"] == 0  # nothing in the store yet
    run("sync", "--once")
    path = tmp_path / "calendars" / f"{AMELIA}.ics"
    path.unlink()
    _, out, _ = run("calendar", "reconcile", "--json", expect=1)
    assert [(f["kind"], f["appointment"]) for f in json.loads(out)["findings"]] == [("missing", "csv/A1")]
    run("calendar", "reconcile", "--fix")
    assert list(events_of(path)) == [uid_for(event_id("csv", "A1"))]
    run("calendar", "reconcile")


class _Counting:
    """Counts calls of a function it wraps (parses of a file, renames of a temp file)."""

    def __init__(self, function):  # type: ignore[no-untyped-def]
        self.function, self.calls = function, 0

    def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.function(*args, **kwargs)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_each_file_is_written_once_per_run_and_never_parsed_again(
        ics_settings: CalendarSettings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 19: the file was parsed and rewritten for every chunk of operations (quadratic)."""
    import clinicsync.sync.calendar.ics_state as ics_state
    import clinicsync.sync.calendar.push as push_module
    monkeypatch.setattr(push_module, "CHUNK", 2)  # seven appointments: four chunks
    apply(store, *(appointment(f"A{i}", start=base_time() + timedelta(hours=i), doctor="D01" if i % 2 else "D02")
                   for i in range(7)))
    renames = _Counting(ics_state.os.replace)
    monkeypatch.setattr(ics_state.os, "replace", renames)
    parses = _Counting(Calendar.from_ical)
    monkeypatch.setattr(Calendar, "from_ical", parses)  # the class ics_state imports when it parses

    def store_run() -> dict[str, int]:
        return push(ics_settings, store.engine, IcsCalendar(ics_settings.ics, store.engine)).as_dict()

    assert store_run()["inserted"] == 7
    assert renames.calls == 2  # one write per doctor's file, not one per chunk
    assert parses.calls == 0  # new files: nothing to read
    apply(store, moved(appointment("A3", start=base_time() + timedelta(hours=3)), 30))
    assert store_run()["patched"] == 1
    assert renames.calls == 3 and parses.calls == 0  # only Amelia's file, from the store, unparsed
    assert store_run()["unchanged"] == 7 and renames.calls == 3  # nothing new: nothing written
    amelia = events_of(tmp_path / "calendars" / f"{AMELIA}.ics")
    assert len(amelia) == 3 and amelia[uid_for(event_id("csv", "A3"))]["sequence"] == 1
    assert len(events_of(tmp_path / "calendars" / f"{DOCTORS['D02'][1]}.ics")) == 4


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_file_from_before_or_edited_by_hand_keeps_its_events(ics_settings: CalendarSettings, store: Store,
                                                               tmp_path: Path) -> None:
    apply(store, appointment("A1"), appointment("A2", start=base_time() + timedelta(hours=1)))
    assert run(ics_settings, store)["inserted"] == 2  # written without the store's tables (as before them)
    path = tmp_path / "calendars" / f"{AMELIA}.ics"
    text = path.read_bytes().replace(b"END:VCALENDAR", b"BEGIN:VEVENT\r\nUID:lunch@example.org\r\n"
                                     b"DTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20260105\r\n"
                                     b"SUMMARY:Lunch\r\nSEQUENCE:0\r\nSTATUS:CONFIRMED\r\nEND:VEVENT\r\nEND:VCALENDAR")
    path.write_bytes(text)  # someone adds an event of their own
    apply(store, moved(appointment("A1"), 15))
    provider = IcsCalendar(ics_settings.ics, store.engine)
    assert push(ics_settings, store.engine, provider).as_dict()["patched"] == 1
    events = events_of(path)
    assert sorted(events) == sorted([uid_for(event_id("csv", "A1")), uid_for(event_id("csv", "A2")),
                                     "lunch@example.org"])
    assert events[uid_for(event_id("csv", "A1"))]["sequence"] == 1
    assert events[uid_for(event_id("csv", "A2"))]["sequence"] == 0


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_run_stopped_before_the_write_is_completed_by_the_next(
        ics_settings: CalendarSettings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    apply(store, appointment("A1"))
    stopped = IcsCalendar(ics_settings.ics, store.engine)
    monkeypatch.setattr(stopped, "flush", lambda: None)  # the process dies after the bookkeeping
    assert push(ics_settings, store.engine, stopped).as_dict()["inserted"] == 1
    path = tmp_path / "calendars" / f"{AMELIA}.ics"
    assert not path.exists()
    assert push(ics_settings, store.engine, IcsCalendar(ics_settings.ics, store.engine)).as_dict()["unchanged"] == 1
    assert list(events_of(path)) == [uid_for(event_id("csv", "A1"))]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_lost_file_is_written_whole_again_at_the_next_change(ics_settings: CalendarSettings, store: Store,
                                                               tmp_path: Path) -> None:
    apply(store, appointment("A1"), appointment("A2", start=base_time() + timedelta(hours=1)))
    provider = IcsCalendar(ics_settings.ics, store.engine)
    push(ics_settings, store.engine, provider)
    path = tmp_path / "calendars" / f"{AMELIA}.ics"
    path.unlink()
    apply(store, moved(appointment("A2", start=base_time() + timedelta(hours=1)), 15))
    assert push(ics_settings, store.engine, IcsCalendar(ics_settings.ics, store.engine)).as_dict()["patched"] == 1
    assert len(events_of(path)) == 2


def _icalendar_reference(op, uid: str, sequence: int, now):  # type: ignore[no-untyped-def]
    """The event as icalendar's object model writes it (how ics.py wrote events before issue 19)."""
    from icalendar import Event

    from clinicsync.common.timeutil import zone

    content = op.content
    local = zone(content.timezone)
    event = Event()
    for name, value in (("uid", uid), ("dtstamp", now), ("last-modified", now), ("sequence", sequence),
                        ("dtstart", content.start.astimezone(local)), ("dtend", content.end.astimezone(local)),
                        ("summary", content.summary)):
        event.add(name, value)
    if content.description:
        event.add("description", content.description)
    if content.where:
        event.add("location", content.where)
    if content.visit_mode == "video" and content.join_url:
        event.add("url", content.join_url)
    event.add("status", "CANCELLED" if content.cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if content.cancelled else "OPAQUE")
    for email in content.attendees:
        event.add("attendee", f"mailto:{email}")
    for name, value in (("X-CLINICSYNC", "1"), ("X-CLINICSYNC-CONNECTOR", content.connector),
                        ("X-CLINICSYNC-EXTERNAL-ID", content.external_id),
                        ("X-CLINICSYNC-HASH", op.content_hash or "")):
        event.add(name, value)
    return event


@pytest.mark.parametrize(("summary", "description", "location", "timezone", "cancelled", "attendees"), [
    ("Follow-up (J.W.)", "Follow-up with J.W.\nManaged by clinicsync: edit it there, not here.",
     "Main Street Clinic", "America/New_York", False, ()),
    ("Cancelled: a, b; c \\ d", "Zürich Größe: " + "äöü€😀, " * 20, None, "Europe/Zurich", True,
     ("jamal.weber@mail.example.com",)),
    ("x" * 73 + "\\;", "", "Ünïcode Straße 1, 8000 Zürich; Bau C", "UTC", False, ()),
    ("Late", "line\r\nbreaks\rand\\Nmore", "Room 2", "Etc/GMT+5", False, ("a@b.example", "c@d.example")),
])
@pytest.mark.parametrize("telehealth", [{}, {"visit_mode": "video", "join_url": "https://vc.example.org/j/5?pwd=a;b,c"},
                                        {"visit_mode": "phone", "dial_in": "+13125550188"}])
def test_the_text_writer_gives_the_event_icalendar_would(  # type: ignore[no-untyped-def]
        summary, description, location, timezone, cancelled, attendees, telehealth) -> None:
    from icalendar import Event

    from clinicsync.sync.calendar.ics import _vevent
    from clinicsync.sync.calendar.provider import EventContent, Op
    from tests.sync.calendar.helpers import base_time

    start = base_time()
    content = EventContent("csv, main", "A;1,2", summary, description, location, start, start + timedelta(minutes=45),
                           timezone, cancelled, attendees, **telehealth)
    op = Op(1, "insert", Target("ics", "", "x"), "abc", content)
    now = base_time() - timedelta(days=1, seconds=17)
    ours_text = _vevent(op, uid_for("abc"), 4, now)
    assert all(len(line.encode()) <= 75 for line in ours_text.split("\r\n"))
    reference_text = _icalendar_reference(op, uid_for("abc"), 4, now).to_ical().decode()

    def unfolded(ical: str) -> list[str]:
        return sorted(ical.replace("\r\n ", "").split("\r\n"))

    assert unfolded(ours_text) == unfolded(reference_text)  # the same content lines, in another order
    ours, reference = Event.from_ical(ours_text), Event.from_ical(reference_text)  # as a reader sees them
    assert sorted(ours.keys()) == sorted(reference.keys())
    for name in reference:
        mine, theirs = ours.get(name), reference.get(name)
        if isinstance(theirs, list):
            assert [str(x) for x in mine] == [str(x) for x in theirs], name
        elif name in ("DTSTART", "DTEND", "DTSTAMP", "LAST-MODIFIED"):
            assert ours.decoded(name) == reference.decoded(name), name
            assert str(ours.decoded(name).tzinfo) == str(reference.decoded(name).tzinfo), name
            assert dict(mine.params) == dict(theirs.params), name
        else:
            assert str(mine) == str(theirs), name


def test_folding_matches_icalendar_at_every_boundary() -> None:
    from icalendar.parser import Contentline

    from clinicsync.sync.calendar.ics_text import fold

    lines = [f"DESCRIPTION:{'a' * n}{tail}" for n in range(55, 150, 7) for tail in ("", "\\,b", "\\\\;c", "^d")]
    lines += [f"SUMMARY:{'é' * n}\\,{'€' * n}😀" for n in range(1, 40, 3)]
    lines += [f"LOCATION:{'x' * n}\\n" for n in range(60, 80)]
    for line in lines:
        assert fold(line) == Contentline(line).to_ical().decode(), line


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_an_unwritable_file_fails_the_run_and_is_written_by_the_next(
        ics_settings: CalendarSettings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import clinicsync.sync.calendar.ics as ics_module
    apply(store, appointment("A1"), appointment("A2", doctor="D02"))
    amelia = tmp_path / "calendars" / f"{AMELIA}.ics"
    real_write = ics_module.write_atomically

    def disk_full_for_amelia(path: Path, parts):  # type: ignore[no-untyped-def]
        if path == amelia:
            raise OSError(28, "No space left on device")
        return real_write(path, parts)

    monkeypatch.setattr(ics_module, "write_atomically", disk_full_for_amelia)
    with pytest.raises(OSError, match=r"1 \.ics file"):
        push(ics_settings, store.engine, IcsCalendar(ics_settings.ics, store.engine))
    assert not amelia.exists()
    assert len(events_of(tmp_path / "calendars" / f"{DOCTORS['D02'][1]}.ics")) == 1  # the other doctor's is written
    monkeypatch.setattr(ics_module, "write_atomically", real_write)
    assert push(ics_settings, store.engine, IcsCalendar(ics_settings.ics, store.engine)).as_dict()["unchanged"] == 2
    assert list(events_of(amelia)) == [uid_for(event_id("csv", "A1"))]
