"""The CSV drop connector, end to end through `clinicsync sync --once --json`."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clinicsync.connectors import csv_drop, dropfolder
from clinicsync.connectors.csv_drop import CsvDropConnector, CsvDropSettings
from clinicsync.sync.cli.demo import COLUMNS, generate_rows
from tests.connectors.csv_support import TOMORROW, Run, appointments, rows, write_drop

# The CSV connector has no dialect branch: reading, settling, archiving, encodings, quarantine
# reasons and listings are the same on any store. The store writes a drop leads to (insert,
# reschedule, snapshot delete, the connector's state of files read) run on PostgreSQL in
# test_import_then_rerun_changes_nothing, test_a_new_drop_with_one_moved_row_is_one_reschedule,
# test_snapshot_with_a_row_removed_deletes_it, test_the_same_file_dropped_again_is_not_read_twice
# and test_exports_kept_in_the_folder_are_never_read_again_past_the_memory_limit; the others run
# on SQLite only.


def test_import_then_rerun_changes_nothing(sync: Callable[[str], Run], drop_dir: Path) -> None:
    data = generate_rows(TOMORROW, days=3)
    write_drop(drop_dir, "a.csv", data)
    run = sync("")
    first = run()
    assert first["created"] == len(data) - 6 and first["quarantined"] == 6 and first["error"] is None
    listed = appointments(run)
    second = run()
    assert second["fetched"] == second["created"] == second["updated"] == 0
    assert appointments(run) == listed


def test_a_new_drop_with_one_moved_row_is_one_reschedule(sync: Callable[[str], Run], drop_dir: Path) -> None:
    data = rows(20)
    write_drop(drop_dir, "a.csv", data)
    run = sync("")
    run()
    moved = [dict(r) for r in data]
    moved[3]["start"] = moved[3]["start"].replace(moved[3]["start"][:10], (TOMORROW + timedelta(days=20)).isoformat())
    write_drop(drop_dir, "b.csv", moved)
    report = run()
    assert (report["rescheduled"], report["unchanged"], report["created"], report["updated"]) == (1, 19, 0, 0)


def test_snapshot_with_a_row_removed_deletes_it(sync: Callable[[str], Run], drop_dir: Path) -> None:
    data = rows(20)
    write_drop(drop_dir, "a.csv", data)
    run = sync("  mode: snapshot\n")
    assert run()["created"] == 20
    write_drop(drop_dir, "b.csv", data[:-1])
    report = run()
    assert (report["deleted"], report["unchanged"]) == (1, 19)
    assert data[-1]["appointment_id"] not in {a["external_id"] for a in appointments(run)}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_snapshot_equal_to_an_older_one_is_applied(sync: Callable[[str], Run], drop_dir: Path) -> None:
    """A booking made and deleted again: the third export says what the first said, and its
    deletion must be seen (found by the clinic simulation, tests/simulation). The files stay
    in the folder (no archive): the older ones are not read again."""
    data = rows(20)
    write_drop(drop_dir, "a.csv", data[:-1])
    run = sync("  mode: snapshot\n")
    assert run()["created"] == 19
    write_drop(drop_dir, "b.csv", data)
    assert run()["created"] == 1
    write_drop(drop_dir, "c.csv", data[:-1])
    report = run()
    assert (report["deleted"], report["unchanged"], report["created"]) == (1, 19, 0)
    assert data[-1]["appointment_id"] not in {a["external_id"] for a in appointments(run)}
    again = run()
    assert again["fetched"] == again["created"] == again["deleted"] == 0


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_truncated_snapshot_deletes_nothing_and_fails_clearly(sync: Callable[[str], Run], drop_dir: Path) -> None:
    data = rows(20)
    write_drop(drop_dir, "a.csv", data)
    run = sync("  mode: snapshot\n")
    run()
    write_drop(drop_dir, "b.csv", data[:10])
    report = run(expect=1)
    assert report["deleted"] == 0
    assert "10 of 20 future appointments" in report["error"] and "nothing was deleted" in report["error"]
    assert len(appointments(run)) == 20


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_dst_gap_is_quarantined_with_its_reason(sync: Callable[[str], Run], drop_dir: Path) -> None:
    bad = {**rows(1)[0], "appointment_id": "GAP", "start": "2027-03-14 02:30", "end": "", "duration_minutes": "30",
           "timezone": ""}
    write_drop(drop_dir, "a.csv", [bad, *rows(3)])
    run = sync("")
    assert run()["quarantined"] == 1
    _, out, _ = run.cli("quarantine", "list", "--all", "--json")  # type: ignore[attr-defined]
    entry = json.loads(out)["items"][0]
    assert (entry["record_id"], entry["field"], entry["position"]) == ("GAP", "start", "a.csv:2")
    assert "does not exist in America/New_York" in entry["reason"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_listing_shows_utc_and_e164(sync: Callable[[str], Run], drop_dir: Path) -> None:
    row = {**rows(1)[0], "start": f"{TOMORROW.isoformat()} 09:00", "end": "", "duration_minutes": "45",
           "timezone": "America/Chicago", "patient_phone": "(312) 555-0142"}
    write_drop(drop_dir, "a.csv", [row])
    run = sync("")
    run()
    (listed,) = appointments(run)
    local = datetime.combine(TOMORROW, dt_time(9), ZoneInfo("America/Chicago"))
    assert listed["start"] == local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert listed["end"] == (local + timedelta(minutes=45)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert listed["timezone"] == "America/Chicago"
    assert listed["patient"]["phone"] == "+13125550142"


@pytest.mark.parametrize(("encoding", "delimiter"), [("utf-8-sig", ","), ("latin-1", ";"), ("utf-8", "\t")])
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_encodings_and_delimiters_are_detected(sync: Callable[[str], Run], drop_dir: Path, encoding: str,
                                               delimiter: str) -> None:
    data = [{**r, "patient_name": "José Muñoz"} for r in rows(5)]
    write_drop(drop_dir, "a.csv", data, encoding=encoding, delimiter=delimiter)
    run = sync("")
    assert run()["created"] == 5
    assert {a["patient"]["name"] for a in appointments(run)} == {"José Muñoz"}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_files_being_written_are_left_for_later(sync: Callable[[str], Run], drop_dir: Path) -> None:
    write_drop(drop_dir, "a.csv.part", rows(3))
    write_drop(drop_dir, "b.csv", rows(3), age=0)  # just modified: inside the settle window
    run = sync("  settle_seconds: 30\n")
    _, out, err = run.cli("sync", "--once", "--json")  # type: ignore[attr-defined]
    assert json.loads(out)["connectors"]["clinic"]["fetched"] == 0
    [said] = [json.loads(line) for line in err.splitlines() if "dropfolder.settling" in line]  # not in silence
    assert (said["level"], said["files"], said["settle_seconds"]) == ("warning", 1, 30) and "next run" in said["hint"]
    os.utime(drop_dir / "b.csv", (time.time() - 60, time.time() - 60))
    _, out, err = run.cli("sync", "--once", "--json")  # type: ignore[attr-defined]
    assert json.loads(out)["connectors"]["clinic"]["created"] == 3 and "dropfolder.settling" not in err


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_processed_files_move_to_the_archive(sync: Callable[[str], Run], drop_dir: Path, tmp_path: Path) -> None:
    write_drop(drop_dir, "a.csv", rows(3))
    run = sync(f"  archive_dir: {tmp_path / 'archive'}\n")
    run()
    assert not (drop_dir / "a.csv").exists() and (tmp_path / "archive" / "a.csv").exists()


def test_the_same_file_dropped_again_is_not_read_twice(sync: Callable[[str], Run], drop_dir: Path) -> None:
    write_drop(drop_dir, "a.csv", rows(3))
    run = sync("")
    run()
    write_drop(drop_dir, "copy.csv", rows(3))
    assert run()["fetched"] == 0


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_header_without_a_mapping_column_is_a_settings_error(sync: Callable[[str], Run], drop_dir: Path) -> None:
    write_drop(drop_dir, "a.csv", rows(3), columns=[c for c in COLUMNS if c != "appointment_id"])
    report = sync("")(expect=1)
    assert report["fetched"] == 0 and report["quarantined"] == 0  # not one quarantine per row: no row read
    assert report["error"] == ("connector clinic: the header has no column 'appointment_id', which mapping "
                               "'csv_default' reads (quote a name with dots as `name.with dots` or give it with "
                               "`column:`); no row was read")
    assert (drop_dir / "a.csv").exists()  # kept for the fixed mapping (or export) to read


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_rows_with_the_wrong_number_of_fields_are_quarantined(sync: Callable[[str], Run], drop_dir: Path) -> None:
    path = write_drop(drop_dir, "a.csv", rows(3))
    with path.open("a") as handle:
        handle.write("X1,2026-01-01 09:00\n")
    os.utime(path, (time.time() - 60, time.time() - 60))
    report = sync("")()
    assert (report["created"], report["quarantined"]) == (3, 1)


def test_delta_mode_resumes_after_the_last_stored_batch(tmp_path: Path, drop_dir: Path) -> None:
    """A crash mid-file: the cursor of the last committed batch skips what is stored."""
    write_drop(drop_dir, "a.csv", rows(20))
    connector = CsvDropConnector(CsvDropSettings(name="c", kind="csv", mapping="csv_default", drop_dir=drop_dir,
                                                 batch_size=7))
    batches = connector.fetch(None)
    first = next(batches)
    assert len(first.records) == 7 and first.cursor is not None
    resumed = list(connector.fetch(first.cursor))  # as if the process died after the first commit
    assert sum(len(b.records) for b in resumed) == 13
    assert resumed[-1].cursor is not None and resumed[-1].cursor["current"] is None


def test_snapshot_mode_rereads_a_file_whole_after_a_crash(drop_dir: Path) -> None:
    write_drop(drop_dir, "a.csv", rows(20))
    connector = CsvDropConnector(CsvDropSettings(name="c", kind="csv", mapping="csv_default", drop_dir=drop_dir,
                                                 batch_size=7, mode="snapshot"))
    batches = list(connector.fetch(None))
    assert [b.cursor is None for b in batches] == [True, True, False]
    assert [b.snapshot_end for b in batches] == [False, False, True]


def test_rows_are_streamed_in_batches(drop_dir: Path) -> None:
    write_drop(drop_dir, "a.csv", rows(20))
    connector = CsvDropConnector(CsvDropSettings(name="c", kind="csv", mapping="csv_default", drop_dir=drop_dir,
                                                 batch_size=7))
    assert [len(b.records) for b in connector.fetch(None)] == [7, 7, 6]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_check_says_which_files_wait_to_settle_and_warns_once(sync: Callable[[str], Run], drop_dir: Path) -> None:
    """`clinicsync check` names a file still inside settle_seconds in its detail (it used to
    say "0 file(s) waiting" and log the settling warning twice: once for its reach check, once
    for its read of the source)."""
    write_drop(drop_dir, "b.csv", rows(3), age=0)
    run = sync("  settle_seconds: 30\n")
    _, out, err = run.cli("check", expect=None)  # type: ignore[attr-defined]
    assert "0 file(s) waiting or kept, 1 changed in the last 30 s (settle_seconds): read once settled" in out
    assert sum("dropfolder.settling" in line for line in err.splitlines()) == 1


def test_check_reports_a_missing_folder(tmp_path: Path) -> None:
    connector = CsvDropConnector(CsvDropSettings(name="c", kind="csv", mapping="csv_default",
                                                 drop_dir=tmp_path / "nowhere"))
    result = connector.check()
    assert not result.ok and "does not exist" in result.detail


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_missing_drop_folder_fails_only_that_connector(write_settings: Callable[..., Path], drop_dir: Path,
                                                         tmp_path: Path, cli: Any) -> None:
    write_drop(drop_dir, "a.csv", rows(3))
    config = write_settings(
        f"- name: good\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop_dir}\n"
        f"- name: gone\n  kind: csv\n  mapping: csv_default\n  drop_dir: {tmp_path / 'nowhere'}\n")
    _, out, _ = cli(config)("sync", "--once", "--json", expect=1)
    report = json.loads(out)["connectors"]
    assert report["good"]["created"] == 3 and report["good"]["error"] is None
    assert "does not exist" in report["gone"]["error"]


def test_a_resumed_file_does_not_count_known_lines_before_its_cursor_again(drop_dir: Path) -> None:
    """Lines the import knows unchanged (issue 32) are left out before a record is built; a
    file resumed after a crash skips the stored rows, known ones included, exactly once."""
    from clinicsync.sync.ingest.fingerprint import Fingerprinter, LineRecognizer
    from clinicsync.sync.store.known_prints import known_prints

    write_drop(drop_dir, "a.csv", rows(20))
    settings = CsvDropSettings(name="c", kind="csv", mapping="csv_default", drop_dir=drop_dir, batch_size=3)
    fingerprint = Fingerprinter(b"epoch")
    connector = CsvDropConnector(settings)
    connector.recognizer = learner = LineRecognizer(fingerprint, lambda: known_prints([]))
    ids, prints = [], []
    for batch in connector.fetch(None):
        taken, _, _ = learner.take()
        ids += [str(r.data["appointment_id"]) for r in batch.records]
        prints += taken
    assert len(ids) == 20 and all(prints)
    known = [(p or "", i) for p, i in zip(prints, ids, strict=True) if int(i[-1]) % 2 == 0]  # even last digit
    index = known_prints([sorted(known)])

    def flat(lists: list[list[str]]) -> list[str]:
        return [item for part in lists for item in part]

    def read(cursor: Any) -> tuple[list[list[str]], list[list[str]], Any]:
        connector.recognizer = recognizer = LineRecognizer(fingerprint, lambda: index)
        records, skipped, last = [], [], None
        for batch in connector.fetch(cursor):
            _, lines, _ = recognizer.take()
            records.append([str(r.data["appointment_id"]) for r in batch.records])
            skipped.append([line.external_id for line in lines])
            last = last or batch.cursor
        return records, skipped, last

    records, skipped, _ = read(None)
    assert sorted(flat(skipped)) == sorted(i for _, i in known)
    assert sorted(flat(records)) == sorted(set(ids) - {i for _, i in known})
    # A batch: 3 records, or 48 known lines (a sixteenth each); the first closes after 3 records.
    assert len(records[0]) == 3 and len(records) > 1

    batches = connector.fetch(None)
    connector.recognizer = first_reader = LineRecognizer(fingerprint, lambda: index)
    first = next(batches)
    _, first_lines, _ = first_reader.take()
    done = [str(r.data["appointment_id"]) for r in first.records] + [line.external_id for line in first_lines]
    records, skipped, _ = read(first.cursor)  # as if the process died after the first commit
    rest = flat(records) + flat(skipped)
    assert sorted(done + rest) == sorted(ids)  # every row once: none lost, none counted twice


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
@pytest.mark.parametrize("batch_size", [1, 2, 1000])
def test_a_utf8_file_read_from_bytes_gives_what_a_text_read_gives(
        drop_dir: Path, monkeypatch: pytest.MonkeyPatch, encoding: str, batch_size: int) -> None:
    """The byte reader (csv_records.Utf8Lines, issue 32) on an awkward re-export (a BOM, CRLF
    and LF and lone CR line ends, blank lines, a quoted value over lines, a NUL, an undecodable
    byte, accented names), with a recognizer that knows half its rows: the same batches
    (records, rejections, cursors) and the same lines recognized, with the same fingerprints,
    as the text stream gives."""
    from clinicsync.connectors import csv_drop
    from clinicsync.sync.ingest.fingerprint import Fingerprinter, LineRecognizer
    from clinicsync.sync.store.known_prints import known_prints
    from tests.connectors.csv_support import csv_lines, settle

    data = rows(12)
    data[3]["patient_name"], data[5]["patient_name"] = "Lucía Muñoz", 'Ann "Nan" Lee'
    lines = csv_lines(data)
    body = [line.encode() for line in lines]
    body[2] = body[2].replace(b"\r\n", b"\n")
    body[4] = body[4].replace(b"\r\n", b"\r")  # a lone CR ends the line in text mode too
    body[6] = body[6].replace(b",", b",\x00", 1)
    body[8] = body[8].replace(b"\r\n", b"\r\n\r\n\n")  # blank lines
    body[9] = body[9].replace(b",", b",\xed", 1)  # not UTF-8: that line alone is a problem
    prefix = b"\xef\xbb\xbf" if encoding == "utf-8-sig" else b""
    (drop_dir / "a.csv").write_bytes(prefix + b"".join(body))
    settle(drop_dir / "a.csv")
    settings = CsvDropSettings(name="c", kind="csv", mapping="csv_default", drop_dir=drop_dir,
                               batch_size=batch_size, settle_seconds=0)
    fingerprint = Fingerprinter(b"epoch")

    def read(index: Any) -> list[Any]:
        connector = CsvDropConnector(settings)
        connector.recognizer = recognizer = LineRecognizer(fingerprint, lambda: index)
        out = []
        for batch in connector.fetch(None):
            prints, recognized, sighted = recognizer.take()
            out.append((batch.records, batch.rejected, batch.cursor, prints, list(recognized), sighted))
        return out

    def both(index: Any) -> list[Any]:
        from_bytes = read(index)
        with monkeypatch.context() as patched:
            patched.setattr(csv_drop, "Utf8Lines", None)
            patched.setattr(csv_drop, "_open_lines", _text_lines)
            from_text = read(index)
        assert from_bytes == from_text
        return from_bytes

    learned = both(known_prints([]))
    kept = [(printed, str(record.data["appointment_id"])) for batch in learned
            for record, printed in zip(batch[0], batch[3], strict=True) if printed]
    assert len(kept) >= 8 and not any(batch[4] for batch in learned)
    half = known_prints([sorted(kept[::2])])
    again = both(half)
    recognized = [line.external_id for batch in again for line in batch[4]]
    assert sorted(recognized) == sorted(i for _, i in kept[::2])


def _text_lines(stack: Any, info: Any) -> Any:
    """csv_drop._open_lines before the byte reader: every file as a text stream."""
    from clinicsync.connectors.text_encoding import MARK_ERRORS

    return stack.enter_context(info.path.open("r", encoding=info.encoding, errors=MARK_ERRORS, newline=""))


def test_exports_kept_in_the_folder_are_never_read_again_past_the_memory_limit(
        sync: Callable[[str], Run], drop_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No archive folder (settings.yaml's default): every export stays in the drop folder, and
    clinicsync remembers only the newest ``DONE_LIMIT`` files it read. A snapshot exported every
    15 minutes passes 10,000 files in 104 days; the oldest one, forgotten, used to be read again
    as new: the clinic of months ago (a visit moved back, later bookings deleted), and the next
    oldest at the next run, and so on."""
    monkeypatch.setattr(dropfolder, "DONE_LIMIT", 2)
    data = rows(20)
    write_drop(drop_dir, "export-01.csv", data, age=500)
    run = sync("  mode: snapshot\n")
    assert run()["created"] == 20
    for number, days in ((2, 20), (3, 21), (4, 22)):
        moved = [dict(r) for r in data]
        moved[3]["start"] = moved[3]["start"].replace(moved[3]["start"][:10],
                                                      (TOMORROW + timedelta(days=days)).isoformat())
        write_drop(drop_dir, f"export-0{number}.csv", moved, age=500 - 100 * number)
        assert run()["rescheduled"] == 1
    for _ in range(3):
        again = run()
        assert (again["fetched"], again["rescheduled"], again["deleted"]) == (0, 0, 0)
    # A new export is still read, and the store held the newest export's state: only the
    # deletion is new (a visit moved back by an old file would show as a reschedule here).
    write_drop(drop_dir, "export-05.csv", moved[:-1], age=50)
    report = run()
    assert (report["deleted"], report["rescheduled"], report["unchanged"]) == (1, 0, 19)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_run_reads_none_of_the_exports_it_already_read(sync: Callable[[str], Run], drop_dir: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Files kept in the folder are known by name, time and size: a folder that gathers an
    export every 15 minutes is not read (hashed) whole on every run."""
    for number in range(5):
        write_drop(drop_dir, f"export-{number}.csv", rows(3 + number), age=500 - 10 * number)
    run = sync("  mode: snapshot\n")
    assert run()["fetched"] > 0
    hashed: list[str] = []
    real = csv_drop.file_digest
    monkeypatch.setattr(csv_drop, "file_digest", lambda path: hashed.append(path.name) or real(path))
    assert run()["fetched"] == 0 and hashed == []
    write_drop(drop_dir, "export-9.csv", rows(8), age=20)
    report = run()
    assert (report["fetched"], report["created"]) == (8, 1) and hashed == ["export-9.csv"]
