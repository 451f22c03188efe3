"""Settings edited months after go-live, through the CLI as an admin runs it.

Each edit makes every stored record map differently; what must patients and doctors get then?

- A zone corrected (``clinic.timezone``, or a source's ``timezone:``) for a source that gives
  local wall times: each such visit's UTC instant moves, its local time does not. The doctor's
  calendar was wrong and is corrected, the reminders are re-planned at the corrected instants,
  the patient's answer stands, and no patient is told their visit "moved" to the time it always
  had; the run says how many visits it corrected. A visit the same export really moves is still
  told; a visit sent with an offset, or with its own zone, is not moved at all.
- A mapping edit (a column added to the type, a status word added): calendars show the new
  text, nobody is messaged, no reminder is re-planned.

Each runs on SQLite and on PostgreSQL (the ``store_url`` parameter)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from clinicsync.common.timeutil import zone
from clinicsync.sync.responses.link_page import moved
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store

A = Appointment.__table__  # type: ignore[attr-defined]
HEADER = "appointment_id,start,duration_minutes,timezone,status,type,location,patient_id,patient_name," \
         "patient_phone,doctor_id,doctor_email\n"
OLD, NEW = "America/New_York", "America/Chicago"


def _day(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def _rows() -> dict[str, tuple[str, str]]:
    """external id -> (start as the source writes it, the row's own zone column)."""
    return {
        "wall1": (f"{_day(20)} 09:00", ""),  # local wall time: read in the configured zone
        "wall2": (f"{_day(21)} 14:30", ""),
        "offset": (f"{_day(22)}T10:00:00-05:00", ""),  # an instant: no zone edit moves it
        "own": (f"{_day(23)} 11:00", "America/Denver"),  # its own zone: no setting applies
        "moves": (f"{_day(24)} 09:00", ""),
    }


def _drop(drop: Path, name: str, rows: dict[str, tuple[str, str]], status: str = "booked",
          reverse: bool = False) -> None:
    lines = [f"{key},{start},30,{tz},{status},Follow-up,Main Street,p-{key},Pat {key},"
             f"+1212555{n:04d},dr-a,dr.a@clinic.example.org\n"
             for n, (key, (start, tz)) in enumerate(rows.items(), start=1)]
    (drop / name).write_text(HEADER + "".join(reversed(lines) if reverse else lines), encoding="utf-8")


def _settings(write_settings: Any, drop: Path, tmp_path: Path, clinic_zone: str, source_zone: str | None,
              mapping: str = "csv_default") -> Path:
    zone_line = f"\n          timezone: {source_zone}" if source_zone else ""
    return write_settings(f"""\
        - name: desk
          kind: csv
          mapping: {mapping}
          drop_dir: {drop}
          mode: delta
          settle_seconds: 0{zone_line}
        """, extra=f"""\
        notifiers:
          - {{name: outbox, kind: outbox, directory: "{tmp_path / 'outbox'}"}}
        reminders:
          offsets: [3d, 1d]
          quiet_hours: {{start: "23:00", end: "05:00"}}
          channels: [sms]
          routes: {{sms: outbox, email: outbox, whatsapp: outbox}}
          agenda: {{enabled: false}}
        calendar:
          provider: ics
          ics: {{directory: "{tmp_path / 'calendars'}"}}
        """, timezone=clinic_zone)


def _visits(store: Store) -> dict[str, Any]:
    with store.engine.connect() as connection:
        return {r.external_id: r for r in connection.execute(select(A))}


def _patient_rows(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(REMINDERS).where(REMINDERS.c.recipient == "patient")))


def _wall(moment: datetime, zone_name: str) -> str:
    return moment.astimezone(zone(zone_name)).strftime("%Y-%m-%d %H:%M")


def _calendar(tmp_path: Path) -> str:
    return "".join(f.read_text(encoding="utf-8") for f in sorted((tmp_path / "calendars").glob("*.ics")))


@pytest.mark.parametrize("edit", ["clinic", "source"])
def test_a_corrected_zone_moves_calendars_and_reminders_and_tells_no_patient(
        edit: str, write_settings: Any, cli: Callable[[Path | None], Any], store: Store, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    rows = _rows()
    _drop(drop, "export-1.csv", rows)
    path = _settings(write_settings, drop, tmp_path, OLD, OLD if edit == "source" else None)
    cli(path)("sync", "--once")  # go-live: the quiet baseline
    before = _visits(store)
    assert _wall(before["wall1"].start_utc, OLD) == f"{_day(20)} 09:00"
    with store.engine.begin() as connection:  # the patient of wall1 had said yes to a message sent
        connection.execute(update(A).where(A.c.external_id == "wall1").values(participation="accepted"))
        connection.execute(update(REMINDERS).where(REMINDERS.c.appointment_id == before["wall1"].id,
                                                   REMINDERS.c.offset == "3d").values(status="sent"))

    # Months later the admin corrects the zone; the next export lists the same visits, one moved.
    if edit == "clinic":
        path = _settings(write_settings, drop, tmp_path, NEW, None)
    else:  # the clinic's own zone stays; the source's is corrected
        path = _settings(write_settings, drop, tmp_path, OLD, NEW)
    _drop(drop, "export-2.csv", {**rows, "moves": (f"{_day(24)} 10:00", "")}, reverse=True)
    _, out, _ = cli(path)("sync", "--once")

    after = _visits(store)
    for key, hour in (("wall1", "09:00"), ("wall2", "14:30"), ("moves", "10:00")):
        assert after[key].timezone == NEW
        assert _wall(after[key].start_utc, NEW)[-5:] == hour, key  # the source's wall time, in the right zone
    assert after["wall1"].start_utc - before["wall1"].start_utc == timedelta(hours=1)
    assert after["offset"].start_utc == before["offset"].start_utc  # an instant stays where it was
    assert after["own"].start_utc == before["own"].start_utc and after["own"].version == before["own"].version
    # Only the visit the source really moved is told; the others are re-planned silently.
    patient = _patient_rows(store)
    told = {r.appointment_id for r in patient if r.kind == "rescheduled"}
    assert told == {after["moves"].id}
    assert after["wall1"].participation == "accepted"  # the answer was for this same local time
    assert "2 visits kept their local time under a changed time zone setting" in " ".join(out.split())
    pending = {(r.appointment_id, r.starts_at) for r in patient if r.kind == "reminder" and r.status == "pending"}
    for key in ("wall1", "wall2"):
        assert (after[key].id, after[key].start_utc) in pending, key
        assert (after[key].id, before[key].start_utc) not in pending, key
    # The 3d reminder wall1's patient had is not planned again (its due an hour later now): the
    # message told this same local time, so it stands for the corrected start, and its answer
    # link still shows the visit (not "changed since this message was sent").
    wall1 = [r for r in patient if r.appointment_id == after["wall1"].id and r.offset == "3d"
             and r.status != "cancelled"]
    assert [(r.status, r.starts_at) for r in wall1] == [("sent", after["wall1"].start_utc)]
    assert not moved(wall1[0], after["wall1"])
    # The doctor's calendar shows each visit at the source's local time, in the zone now configured.
    calendar = _calendar(tmp_path)
    assert f"DTSTART;TZID={NEW}:{_day(20).replace('-', '')}T090000" in calendar
    assert f"DTSTART;TZID={NEW}:{_day(21).replace('-', '')}T143000" in calendar

    # The export again: nothing more to do.
    _drop(drop, "export-3.csv", {**rows, "moves": (f"{_day(24)} 10:00", "")})
    _, out, _ = cli(path)("sync", "--once")
    assert "changed time zone setting" not in out
    assert {k: v.version for k, v in _visits(store).items()} == {k: v.version for k, v in after.items()}


def test_a_mapping_edit_updates_calendars_and_messages_nobody(
        write_settings: Any, cli: Callable[[Path | None], Any], store: Store, tmp_path: Path) -> None:
    """A column added to the visit type and a status word added: every record's content changes,
    the calendars show the new titles, no patient or doctor is messaged, nothing is re-planned."""
    drop = tmp_path / "drop"
    drop.mkdir()
    rows = {k: v for k, v in _rows().items() if k != "own"}
    _drop(drop, "export-1.csv", rows, status="attended-later")
    custom = tmp_path / "desk.yaml"
    custom.write_text("extends: csv_default\nstatus_map: {attended-later: booked}\n", encoding="utf-8")
    path = _settings(write_settings, drop, tmp_path, OLD, None, mapping=str(custom))
    cli(path)("sync", "--once")
    before = _patient_rows(store)
    assert before and "Follow-up (" in _calendar(tmp_path)

    custom.write_text("extends: csv_default\nstatus_map: {attended-later: booked, walk-in: booked}\n"
                      "fields:\n  type: {concat: [type, location]}\n", encoding="utf-8")
    _drop(drop, "export-2.csv", rows, status="attended-later", reverse=True)
    _, out, _ = cli(path)("sync", "--once")
    assert "changed time zone setting" not in out
    assert "Follow-up Main Street (" in _calendar(tmp_path)
    after = _patient_rows(store)
    assert {(r.id, r.kind, r.status, r.due_at) for r in after} == {(r.id, r.kind, r.status, r.due_at) for r in before}


def test_a_changed_default_region_is_said_and_messages_nobody(
        write_settings: Any, cli: Callable[[Path | None], Any], store: Store, tmp_path: Path) -> None:
    """Numbers written without +country are read in the new region: the run says how many
    patients' numbers now read in another country (or not at all), nobody is messaged for it,
    nothing is re-planned, and a region with the same numbering plan (US -> CA) says nothing."""
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "export-1.csv").write_text(
        HEADER + f"n1,{_day(20)} 09:00,30,,booked,Follow-up,Main Street,p1,Pat One,(201) 555-0165,dr-a,"
        f"dr.a@clinic.example.org\nn2,{_day(21)} 09:00,30,,booked,Follow-up,Main Street,p2,Pat Two,"
        f"+1 212 555 0101,dr-a,dr.a@clinic.example.org\n", encoding="utf-8")
    path = _settings(write_settings, drop, tmp_path, OLD, None)
    cli(path)("sync", "--once")
    before = _patient_rows(store)
    calendar = _calendar(tmp_path)

    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("default_region: US", "default_region: CA"), encoding="utf-8")
    shutil.copyfile(drop / "export-1.csv", drop / "export-2.csv")
    with (drop / "export-2.csv").open("a", encoding="utf-8") as handle:
        handle.write("\n")  # another export of the same rows
    _, out, _ = cli(path)("sync", "--once")
    assert "phone number" not in out

    path.write_text(text.replace("default_region: US", "default_region: GB"), encoding="utf-8")
    shutil.copyfile(drop / "export-1.csv", drop / "export-3.csv")
    with (drop / "export-3.csv").open("a", encoding="utf-8") as handle:
        handle.write("\n\n")
    _, out, _ = cli(path)("sync", "--once")
    assert "1 patient's phone number now reads in another country or not at all" in " ".join(out.split())
    assert _patient_rows(store) == before  # no notice, nothing re-planned
    assert _calendar(tmp_path).count("BEGIN:VEVENT") == calendar.count("BEGIN:VEVENT") == 2


def test_delta_switched_to_snapshot_and_announce_existing_left_on_tell_nobody(
        write_settings: Any, cli: Callable[[Path | None], Any], store: Store, tmp_path: Path) -> None:
    """A live delta source switched to ``mode: snapshot`` with ``announce_existing: true`` left on:
    a first file that lists only some visits (a delta file) deletes nothing (the safety stop, the
    run fails and says so), a full export deletes nothing and announces nothing already stored."""
    drop = tmp_path / "drop"
    drop.mkdir()
    rows = {k: v for k, v in _rows().items() if k != "own"}
    _drop(drop, "export-1.csv", rows)
    path = _settings(write_settings, drop, tmp_path, OLD, None)
    cli(path)("sync", "--once")
    before = _patient_rows(store)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("mode: delta", "mode: snapshot\n    announce_existing: true"), encoding="utf-8")

    _drop(drop, "export-2.csv", {"wall1": rows["wall1"]})  # a delta file, read as the whole list
    code, out, _ = cli(path)("sync", "--once", expect=None)
    assert code != 0 and "snapshot safety stop" in " ".join(out.split())
    assert all(v.deleted_at is None for v in _visits(store).values())

    _drop(drop, "export-3.csv", rows, reverse=True)  # the full export
    cli(path)("sync", "--once")
    assert all(v.deleted_at is None for v in _visits(store).values())
    assert _patient_rows(store) == before  # nothing cancelled, announced or re-planned
