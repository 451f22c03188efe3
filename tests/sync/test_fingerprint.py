"""Raw-record fingerprints (issue 19): a re-exported row that did not change is known before
mapping and costs no mapping or store work; anything that could change what it maps to (the
row, the mapping, the settings) makes it mapped again. On SQLite and the real PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from clinicsync.connectors.base import Batch, RawRecord
from clinicsync.mappings.engine import CompiledMapping, load_mapping
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest import fingerprint as fingerprint_module
from clinicsync.sync.ingest.batch_map import map_batch
from clinicsync.sync.ingest.engine import sync_once
from clinicsync.sync.ingest.fingerprint import Fingerprinter, Unchanged, unchanged_records
from clinicsync.sync.store.model import Appointment, Event, Quarantine
from clinicsync.sync.store.store import Counts, Store

DAY = (date.today() + timedelta(days=10)).isoformat()
HEADER = "appointment_id,start,duration_minutes,status,patient_id,patient_phone"


def row(external_id: str, hour: int = 9, status: str = "booked", patient: str | None = None) -> str:
    return f"{external_id},{DAY} {hour:02d}:00,30,{status},{patient or 'P' + external_id},(212) 555-0100"


class Dropper:
    """Writes each export as a new file in the drop folder (the connector reads a file once)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def __call__(self, *rows: str, newline: str = "\n") -> None:
        self.count += 1
        self.folder.mkdir(exist_ok=True)
        # Blank lines (skipped by the reader) make each file's bytes new: an identical file
        # would be skipped whole by its content hash, before any row is read.
        (self.folder / f"export-{self.count:02d}.csv").write_bytes(
            (newline.join([HEADER, *rows, ""]) + newline * self.count).encode())


@pytest.fixture
def drop(tmp_path: Path) -> Dropper:
    return Dropper(tmp_path / "drop")


@pytest.fixture
def mapped(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every record the mapping engine maps, by id: what the fingerprint is meant to spare."""
    seen: list[str] = []
    original = CompiledMapping.apply

    def counting(self: CompiledMapping, record: Any) -> Any:
        seen.append(str(record.get("appointment_id")))
        return original(self, record)

    monkeypatch.setattr(CompiledMapping, "apply", counting)
    return seen


@pytest.fixture
def configure(write_settings: Callable[..., Path], tmp_path: Path) -> Callable[..., Settings]:
    def make(mapping: str = "csv_default", timezone: str = "America/New_York", extra: str = "") -> Settings:
        connector = (f"- name: src\n  kind: csv\n  mapping: {mapping}\n  drop_dir: {tmp_path / 'drop'}\n"
                     f"  settle_seconds: 0\n  batch_size: 3\n{extra}")
        return load_settings(write_settings(connector, timezone=timezone))
    return make


def run(settings: Settings) -> Counts:
    store = Store.open(settings.store)
    try:
        report = sync_once(settings, store).connectors["src"]
    finally:
        store.close()
    assert report.error is None, report.error
    return report.counts


def stored(settings: Settings) -> dict[str, tuple[Any, ...]]:
    store = Store.open(settings.store)
    try:
        with store.engine.connect() as connection:
            rows = connection.execute(select(  # type: ignore[call-overload]
                Appointment.external_id, Appointment.start_utc, Appointment.version, Appointment.deleted_at,
                Appointment.source_fingerprint)).all()
    finally:
        store.close()
    return {r[0]: tuple(r[1:]) for r in rows}


def open_items(settings: Settings) -> list[str]:
    store = Store.open(settings.store)
    try:
        with store.engine.connect() as connection:
            return sorted(connection.execute(select(Quarantine.record_id)  # type: ignore[call-overload]
                                             .where(Quarantine.status == "open")).scalars())
    finally:
        store.close()


def test_a_re_exported_unchanged_row_is_not_mapped_again_and_a_changed_one_is(
        configure: Callable[..., Settings], drop: Dropper, mapped: list[str]) -> None:
    settings = configure()
    drop(row("a"), row("b"), row("c"), row("d"))
    assert run(settings).created == 4
    assert sorted(mapped) == ["a", "b", "c", "d"]
    first = stored(settings)
    assert all(values[3] is not None for values in first.values())  # each row keeps its fingerprint

    mapped.clear()
    drop(row("a"), row("b"), row("c"), row("d"), newline="\r\n")  # other bytes, the same rows
    counts = run(settings)
    assert (counts.fetched, counts.unchanged, counts.created, counts.updated) == (4, 4, 0, 0)
    assert mapped == []
    assert stored(settings) == first

    mapped.clear()
    drop(row("a"), row("b", hour=11), row("c"), row("d"))
    counts = run(settings)
    assert (counts.fetched, counts.unchanged, counts.rescheduled) == (4, 3, 1)
    assert mapped == ["b"]
    after = stored(settings)
    assert after["b"][0] == first["b"][0] + timedelta(hours=2) and after["b"][1] == 2
    assert after["b"][3] != first["b"][3]
    assert {k: v for k, v in after.items() if k != "b"} == {k: v for k, v in first.items() if k != "b"}


# SQLite only: the mapping epoch is a digest made in Python; the stored prints are read
# (known_prints.read_known's PostgreSQL branch) and rewritten on PostgreSQL by the first test.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_changed_mapping_maps_every_row_again(configure: Callable[..., Settings], drop: Dropper,
                                                mapped: list[str], tmp_path: Path) -> None:
    drop(row("a"), row("b", status="seen"), row("c"))
    settings = configure()
    run(settings)
    assert open_items(settings) == ["b"]  # `seen` is no status word of csv_default

    site = tmp_path / "site.yaml"
    site.write_text("name: site\nextends: csv_default\nstatus_map:\n  seen: arrived\n", encoding="utf-8")
    fixed = configure(mapping=str(site))
    mapped.clear()
    drop(row("a"), row("b", status="seen"), row("c"), newline="\r\n")
    counts = run(fixed)
    assert sorted(mapped) == ["a", "b", "c"]  # the fingerprints of the old mapping no longer hold
    assert (counts.created, counts.unchanged, counts.quarantined) == (1, 2, 0)
    assert open_items(fixed) == []

    mapped.clear()
    drop(row("a"), row("b", status="seen"), row("c"))
    assert run(fixed).unchanged == 3
    assert mapped == []  # the unchanged rows took the new mapping's fingerprints


# SQLite only: the zone is in the epoch (Python); its writes are the first test's.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_changed_clinic_timezone_maps_every_row_again(configure: Callable[..., Settings], drop: Dropper,
                                                        mapped: list[str]) -> None:
    drop(row("a"), row("b"))
    run(configure(timezone="America/New_York"))
    before = stored(configure())

    moved = configure(timezone="America/Chicago")
    mapped.clear()
    drop(row("a"), row("b"), newline="\r\n")
    counts = run(moved)
    assert sorted(mapped) == ["a", "b"]
    # The same local times, an hour later in Chicago: corrected, not rescheduled.
    assert (counts.rescheduled, counts.updated, counts.corrected) == (0, 2, 2)
    after = stored(moved)
    assert all(after[k][0] == before[k][0] + timedelta(hours=1) for k in ("a", "b"))


def test_snapshot_deletions_still_see_the_skipped_rows(configure: Callable[..., Settings], drop: Dropper,
                                                       mapped: list[str]) -> None:
    settings = configure(extra="  mode: snapshot\n  max_delete_share: 0.5\n")
    drop(row("a"), row("b"), row("c"), row("d"))
    run(settings)

    mapped.clear()
    drop(row("a"), row("b"), row("c"), newline="\r\n")  # d is gone from the listing
    counts = run(settings)
    assert mapped == []
    assert (counts.deleted, counts.unchanged) == (1, 3)
    state = stored(settings)
    assert state["d"][2] is not None and state["d"][3] is None  # deleted, its fingerprint cleared
    assert all(state[k][2] is None for k in "abc")

    mapped.clear()
    drop(row("a"), row("b"), row("c"), row("d"))  # d comes back byte for byte: applied, not skipped
    counts = run(settings)
    assert mapped == ["d"]
    assert counts.updated == 1 and stored(settings)["d"][2] is None


def sightings(settings: Settings) -> list[tuple[Any, ...]]:
    store = Store.open(settings.store)
    try:
        with store.engine.connect() as connection:
            return [tuple(r) for r in connection.execute(select(  # type: ignore[call-overload]
                Quarantine.record_id, Quarantine.seen_count, Quarantine.status, Quarantine.position,
                Quarantine.reason))]
    finally:
        store.close()


def test_a_quarantined_row_seen_again_is_a_sighting_and_resolves_when_its_row_is_fixed(
        configure: Callable[..., Settings], drop: Dropper, mapped: list[str]) -> None:
    settings = configure()
    drop(row("a"), row("b"))
    run(settings)

    drop(row("a"), row("b", status="zzz"))  # b goes bad: quarantined, its stored row kept
    assert run(settings).quarantined == 1
    assert open_items(settings) == ["b"]
    [(_, count, status, position, reason)] = sightings(settings)
    assert (count, status, position) == (1, "open", "export-02.csv:3")

    mapped.clear()
    drop(row("a"), row("b", status="zzz"), newline="\r\n")
    counts = run(settings)
    # The same bytes under the same mapping: known bad by its fingerprint, a sighting of its
    # item (counted, last seen here), not mapped again (issue 32).
    assert mapped == [] and (counts.fetched, counts.quarantined, counts.unchanged) == (2, 1, 1)
    assert sightings(settings) == [("b", 2, "open", "export-03.csv:3", reason)]

    mapped.clear()
    drop(row("a"), row("b", status="zzzz"))  # bad in another way: judged, a new item
    assert run(settings).quarantined == 1 and mapped == ["b"]
    assert open_items(settings) == ["b", "b"]

    mapped.clear()
    drop(row("a"), row("b"))  # b is back to the row its appointment was stored from
    counts = run(settings)
    assert mapped == [] and counts.unchanged == 2
    assert open_items(settings) == []  # skipped, yet its items resolve as an import would

    mapped.clear()
    drop(row("a"), row("b", status="zzz"))  # the first bad row again: its resolved item re-opens
    assert run(settings).quarantined == 1 and mapped == ["b"]
    assert open_items(settings) == ["b"]


def events(settings: Settings) -> int:
    store = Store.open(settings.store)
    try:
        with store.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(Event)).scalar_one())
    finally:
        store.close()


def _line_hasher_before_csv_line_2(epoch: bytes, delimiter: str, header: Sequence[str]) -> Any:
    """How a plain line was digested before ``LINE_FORMAT`` csv-line/2: epoch, delimiter and
    header fed to the hash as data before the line."""
    seed = hashlib.blake2b(epoch, digest_size=16)
    seed.update(b"\x00csv-line\x00" + "\x00".join([delimiter, *header]).encode("utf-8", "surrogatepass") + b"\x01")
    return seed


def test_lines_stored_under_the_former_line_digest_are_mapped_once_more_and_nothing_but_prints_is_written(
        configure: Callable[..., Settings], drop: Dropper, mapped: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """An upgrade that changes how plain lines are digested (sync/ingest/fingerprint.py line_hasher)
    leaves every stored line fingerprint stale: the first re-export after it maps its rows once
    more, as after a mapping change, finds them unchanged by content (no version, no event, the
    known-bad row a sighting of its open item) and stores the new fingerprints, by which the next
    re-export knows them again."""
    settings = configure()
    with monkeypatch.context() as before:
        before.setattr(fingerprint_module, "line_hasher", _line_hasher_before_csv_line_2)
        drop(row("a"), row("b"), row("c", status="zzz"))
        assert run(settings).created == 2
        mapped.clear()
        drop(row("a"), row("b"), row("c", status="zzz"), newline="\r\n")
        counts = run(settings)
        assert mapped == [] and (counts.unchanged, counts.quarantined) == (2, 1)  # the former digest held
    first, first_events, [(_, count, status, _, reason)] = stored(settings), events(settings), sightings(settings)
    assert (count, status) == (2, "open")

    mapped.clear()
    drop(row("a"), row("b"), row("c", status="zzz"))
    counts = run(settings)
    assert sorted(mapped) == ["a", "b", "c"]  # the stored line fingerprints no longer hold
    assert (counts.fetched, counts.unchanged, counts.quarantined, counts.created, counts.updated) == (3, 2, 1, 0, 0)
    after = stored(settings)
    assert {k: v[:3] for k, v in after.items()} == {k: v[:3] for k, v in first.items()}  # same rows, versions
    assert all(after[k][3] != first[k][3] for k in after)  # the new fingerprints stored
    assert events(settings) == first_events
    assert sightings(settings) == [("c", 3, "open", "export-03.csv:4", reason)]

    mapped.clear()
    drop(row("a"), row("b"), row("c", status="zzz"), newline="\r\n")
    counts = run(settings)
    assert mapped == [] and (counts.unchanged, counts.quarantined) == (2, 1)  # known again, by the new digest
    assert stored(settings) == after and events(settings) == first_events
    assert sightings(settings) == [("c", 4, "open", "export-04.csv:4", reason)]


def test_rows_naming_the_same_id_are_all_mapped_so_the_last_still_wins(
        configure: Callable[..., Settings], drop: Dropper, mapped: list[str]) -> None:
    settings = configure()
    drop(row("a", hour=9))
    run(settings)
    at_nine = stored(settings)["a"][0]

    mapped.clear()
    drop(row("a", hour=10), row("a", hour=9))  # the second is the stored row, byte for byte
    counts = run(settings)
    assert mapped == ["a", "a"]
    assert stored(settings)["a"][0] == at_nine and counts.rescheduled == 0


def test_a_skipped_record_is_mapped_after_all_when_a_mapped_one_turns_out_to_share_its_id() -> None:
    """The id is only peeked before mapping; should a mapped record of the batch name the
    same appointment as a skipped one, both are mapped, in the file's order."""
    mapping = load_mapping("csv_default", "America/New_York", "US")
    records = [RawRecord({"appointment_id": "a", "start": f"{DAY} 09:00", "duration_minutes": "30"}, "f:2"),
               RawRecord({"appointment_id": "a", "start": f"{DAY} 10:00", "duration_minutes": "30"}, "f:3"),
               RawRecord({"appointment_id": "b", "start": f"{DAY} 11:00", "duration_minutes": "30"}, "f:4")]
    known = Unchanged(["p0", "p1", "p2"], skipped={0: "a", 2: "b"})
    found, quarantined = map_batch(mapping, Batch(records), known)
    assert [(m.position, m.fingerprint) for m in found] == [("f:2", "p0"), ("f:3", "p1")]
    assert quarantined == [] and known.skipped == {2: "b"}


def test_unchanged_records_never_skip_deletions_or_unreadable_ids() -> None:
    mapping = load_mapping("csv_default", "America/New_York", "US")
    fingerprint = Fingerprinter(b"epoch")
    records = [RawRecord({"appointment_id": "a", "start": "x"}, "f:2"),
               RawRecord({"appointment_id": "b", "start": "x"}, "f:3", delete=True),
               RawRecord({"appointment_id": "", "start": "x"}, "f:4")]
    known = {"a": fingerprint(records[0].data) or "", "b": fingerprint(records[1].data) or ""}
    found = unchanged_records(Batch(records), mapping, fingerprint, lambda ids: {i: known[i] for i in ids})
    assert found.skipped == {0: "a"}
    assert found.fingerprints[1] is None  # a deletion is applied, never compared


def test_a_fingerprint_depends_on_the_epoch_the_values_their_types_and_the_column_order() -> None:
    one, other = Fingerprinter(b"one"), Fingerprinter(b"two")
    record = {"appointment_id": "a", "start": "2026-03-01 09:00"}
    assert one(record) == one(dict(record)) and one(record) != other(record)
    assert one(record) != one({"start": "2026-03-01 09:00", "appointment_id": "a"})
    assert one({"n": 1}) != one({"n": "1"}) != one({"n": 1.0})
    assert one({"at": datetime(2026, 3, 1, 9)}) != one({"at": "2026-03-01T09:00:00"})


def test_a_record_holding_an_object_that_is_no_plain_value_is_never_fingerprinted() -> None:
    assert Fingerprinter(b"e")({"appointment_id": "a", "resolver": object()}) is None


# SQLite only: the run's own index of prints is Python, built by read_known as in the first test.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_row_changed_by_one_file_and_restored_by_the_next_in_the_same_run_ends_as_restored(
        configure: Callable[..., Settings], drop: Dropper, mapped: list[str]) -> None:
    """A run reads the stored fingerprints once (issue 32); a row the run itself rewrote is
    no longer recognized by the fingerprint it had at the start."""
    settings = configure()
    drop(row("a"), row("b"))
    run(settings)
    first = stored(settings)

    mapped.clear()
    drop(row("a"), row("b", hour=11), newline="\r\n")
    drop(row("a"), row("b"))  # the next file of the same run: b as it was stored
    counts = run(settings)
    assert sorted(mapped) == ["b", "b"]
    assert counts.rescheduled == 2 and counts.unchanged == 2
    assert stored(settings)["b"][0] == first["b"][0]


def test_a_row_a_snapshot_deleted_comes_back_in_the_next_file_of_the_same_run(
        configure: Callable[..., Settings], drop: Dropper, mapped: list[str]) -> None:
    settings = configure(extra="  mode: snapshot\n  max_delete_share: 0.5\n")
    drop(row("a"), row("b"), row("c"), row("d"))
    run(settings)

    mapped.clear()
    drop(row("a"), row("b"), row("c"), newline="\r\n")  # d is gone from this listing ...
    drop(row("a"), row("b"), row("c"), row("d"))  # ... and back in the next one, byte for byte
    counts = run(settings)
    assert mapped == ["d"]
    assert counts.deleted == 1 and counts.updated == 1
    assert stored(settings)["d"][2] is None


def test_past_the_memory_limit_each_batch_looks_its_fingerprints_up(
        configure: Callable[..., Settings], drop: Dropper, mapped: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("clinicsync.sync.ingest.engine.KNOWN_LIMIT", 2)
    settings = configure()
    drop(row("a"), row("b"), row("c"), row("d"))
    run(settings)

    mapped.clear()
    drop(row("a"), row("b", hour=11), row("c"), row("d"), newline="\r\n")
    counts = run(settings)
    assert mapped == ["b"]
    assert (counts.unchanged, counts.rescheduled) == (3, 1)


# SQLite only: what is built is decided in Python from the index the first test reads on PostgreSQL.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_an_unchanged_line_is_not_built_into_a_record(
        configure: Callable[..., Settings], drop: Dropper, monkeypatch: pytest.MonkeyPatch) -> None:
    """The re-export's floor: a known line costs a digest and a lookup, no dict (issue 32)."""
    settings = configure()
    drop(row("a"), row("b"), row("c"))
    run(settings)
    built: list[str] = []
    original = RawRecord.__init__

    def counting(self: RawRecord, data: Any, *args: Any, **kwargs: Any) -> None:
        built.append(str(data.get("appointment_id")))
        original(self, data, *args, **kwargs)

    monkeypatch.setattr(RawRecord, "__init__", counting)
    drop(row("a"), row("b", hour=12), row("c"), newline="\r\n")
    counts = run(settings)
    assert built == ["b"] and (counts.fetched, counts.unchanged) == (3, 2)


def test_a_snapshot_keeps_the_items_of_known_bad_rows_it_still_lists(
        configure: Callable[..., Settings], drop: Dropper, mapped: list[str]) -> None:
    """A sighting is in the listing: neither a named nor an unnamed bad row's item is
    resolved as gone from the source (quarantine.resolve_absent)."""
    settings = configure(extra="  mode: snapshot\n")
    drop(row("a"), row("b", status="zzz"), row(""))
    run(settings)
    assert [(r[0], r[2]) for r in sightings(settings)] == [("b", "open"), (None, "open")]

    mapped.clear()
    drop(row("a"), row("b", status="zzz"), row(""), newline="\r\n")
    counts = run(settings)
    assert mapped == [] and (counts.quarantined, counts.unchanged) == (2, 1)
    assert [(r[0], r[1], r[2]) for r in sightings(settings)] == [("b", 2, "open"), (None, 2, "open")]

    drop(row("a"))  # both gone from the listing now
    run(settings)
    assert [r[2] for r in sightings(settings)] == ["resolved", "resolved"]


def test_the_line_test_finds_exactly_the_stored_lines_through_probe_chains() -> None:
    """The line test's inlined look-up (LineRecognizer.start_file) through linear-probe chains:
    a line is recognized exactly when its digest is stored (with that row's id) and the id is
    not one the run already wrote; a miss walking an occupied chain finds nothing."""
    from clinicsync.sync.ingest.fingerprint import LineRecognizer, line_hasher
    from clinicsync.sync.store.known_prints import HALVES, known_prints

    header, epoch = ["appointment_id", "start"], b"e" * 16
    bodies = [f"A{n},2027-01-04 {n % 24:02}:00".encode() for n in range(900)]
    seed = line_hasher(epoch, ",", header)

    def printed(body: bytes) -> bytes:
        digest = seed.copy()
        digest.update(body)
        return digest.digest()

    stored = {printed(body): f"id{n}" for n, body in enumerate(bodies) if n % 2 == 0}
    index = known_prints([[(digest.hex(), external_id) for digest, external_id in stored.items()]])
    shift = index.parts()[3]
    assert len({HALVES.unpack(d)[0] >> shift for d in stored}) < len(stored)  # chains exist
    recognizer = LineRecognizer(Fingerprinter(epoch), lambda: index)
    recognizer.touched.update({"id4", "id10"})
    recognize = recognizer.start_file("f.csv", header, ",")
    for at, body in enumerate(bodies):
        expected = stored.get(printed(body))
        known = expected is not None and expected not in recognizer.touched
        assert recognize(1, bodies, at, at + 1) == (at + 1 if known else at), body
        if known:
            assert recognizer._lines.ids[-1] == expected


def test_recognized_lines_name_their_ids_when_asked_and_those_of_open_items_by_row() -> None:
    """A recognized line keeps its row in the known index; its id is sliced when asked for
    (``ids``), and the ids among the open items' (``ids_among``) are found by row when the index
    noted the rows of all of them as it was read (``KnownPrints.wanted``), else by id: the same
    answers either way, before and after the ids are sliced, and after ``copy``/``take_named``."""
    from clinicsync.sync.ingest.fingerprint import LineRecognizer, line_hasher
    from clinicsync.sync.store.known_prints import known_prints

    header, epoch = ["appointment_id", "start"], b"e" * 16
    bodies = [f"A{n},2027-01-04 {n % 24:02}:00".encode() for n in range(300)]
    seed = line_hasher(epoch, ",", header)

    def printed(body: bytes) -> str:
        digest = seed.copy()
        digest.update(body)
        return digest.hexdigest()

    expected = [f"id{n % 250}" for n in range(len(bodies))]  # rows 0-49 and 250-299 share their ids
    open_ids = {"id3", "id7", "id260", "gone"}
    index = known_prints([[(printed(body), external_id) for body, external_id in zip(bodies, expected, strict=True)]],
                         open_ids)
    recognizer = LineRecognizer(Fingerprinter(epoch), lambda: index)
    recognize = recognizer.start_file("f.csv", header, ",")
    assert recognize(1, bodies, 0, len(bodies)) == len(bodies)
    _, lines, _ = recognizer.take()
    assert len(lines) == len(bodies) and recognizer._lines.rows == []
    for among in (open_ids, {"id3"}, {"id3", "id99"}, {"id99"}, {"gone"}):  # noted, noted, not all noted, ...
        fresh = lines.copy()
        assert fresh.ids_among(among) == among.intersection(expected)
        assert fresh.ids == expected
        assert fresh.ids_among(among) == among.intersection(expected)
    taken = lines.take_named({"id3", "id260"})
    assert [(line.external_id, line.number) for line in taken] == [("id3", 4), ("id3", 254)]
    assert all(line.fingerprint == printed(line.body.encode()) for line in taken)
    left = [external_id for external_id in expected if external_id not in {"id3", "id260"}]
    assert lines.ids == left and index.names(lines.rows) == left and len(lines.numbers) == len(left)
    assert lines.ids_among(open_ids) == {"id7"}


@pytest.mark.parametrize("known", [None, "empty"])
def test_the_first_import_line_test_answers_as_the_full_one(known: str | None) -> None:
    """With nothing stored and nothing known bad (a first import), start_file's short line test
    answers each call as the full test does over an index of other rows: the first line asked
    about, its fingerprint pending for ``kept``, nothing gathered; an empty range is its end."""
    from clinicsync.sync.ingest.fingerprint import LineRecognizer
    from clinicsync.sync.store.known_prints import known_prints

    header, epoch = ["appointment_id", "start"], b"e" * 16
    bodies = [f"A{n},2027-01-04 {n % 24:02}:00".encode() for n in range(40)]
    others = known_prints([[("ab" * 16, "elsewhere")]])  # the full test: an index that finds none of them
    empty = None if known is None else known_prints([])
    runs = []
    for index in (empty, others):
        recognizer = LineRecognizer(Fingerprinter(epoch), lambda index=index: index)  # type: ignore[misc]
        recognize = recognizer.start_file("f.csv", header, ",")
        assert ("_fresh" in recognize.__qualname__) == (index is empty)  # each path taken
        answers = []
        for at in range(len(bodies)):
            answers.append(recognize(7, bodies, at, min(at + 5, len(bodies))))
            recognizer.kept(7 + at)
        answers.append(recognize(7, bodies, len(bodies), len(bodies)))
        prints, lines, sightings = recognizer.take()
        runs.append((answers, prints, list(lines), sightings))
    assert runs[0] == runs[1]
    assert runs[0][0] == [*range(len(bodies)), len(bodies)] and None not in runs[0][1]


# SQLite only: `stored_times` is in the epoch (Python); its writes are the first test's.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_changed_stored_times_maps_every_row_again(configure: Callable[..., Settings], drop: Dropper,
                                                     mapped: list[str]) -> None:
    """`stored_times` is in the mapping epoch: switching a source to `utc` re-reads its rows
    and re-times its visits (the same naive times, now UTC instants), as a zone change does."""
    drop(row("a"), row("b"))
    run(configure(timezone="America/Chicago"))
    before = stored(configure(timezone="America/Chicago"))

    utc = configure(timezone="America/Chicago", extra="  stored_times: utc\n")
    mapped.clear()
    drop(row("a"), row("b"), newline="\r\n")
    counts = run(utc)
    assert sorted(mapped) == ["a", "b"]
    assert counts.unchanged == 0  # both re-timed (told as moved: this export has no update stamp, see
    after = stored(utc)           # tests/sync/test_stored_times_changes.py)
    offset = datetime.fromisoformat(f"{DAY}T09:00").replace(tzinfo=ZoneInfo("America/Chicago")).utcoffset()
    assert offset is not None
    assert all(after[k][0] == before[k][0] + offset for k in ("a", "b"))  # 09:00 CST -> 09:00 UTC
