"""`clinicsync discover` for a CSV export: read the file the way the ``csv``
connector reads it (encoding by ``text_encoding.inspect_file``, delimiter by the connector's
own sniffing, rows by ``CsvRecords``), sample rows from across the whole file (the first,
a spread through the middle, the last: an export sorted by date shows its old and new
shapes at either end), and propose a ``kind: csv`` connector with its mapping.

A header that is clinicsync's own drop format is proposed as the ``csv_default`` preset
(overridden only for status words or date formats the preset lacks); any other header is
placed column by column by the scorer (``scoring.py``).
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from clinicsync.common.vocabulary import STATUSES
from clinicsync.connectors.csv_drop import _sniff_delimiter
from clinicsync.connectors.csv_records import CsvRecords
from clinicsync.connectors.text_encoding import MARK_ERRORS, display_name, inspect_file
from clinicsync.mappings.model import MappingError
from clinicsync.mappings.preset_files import PRESETS_DIR
from clinicsync.sync.discover.clock import given_convention, write_clock
from clinicsync.sync.discover.columns import ColumnSample
from clinicsync.sync.discover.compiled import compile_proposal
from clinicsync.sync.discover.csv_clock import PROBE_ZONES, settle_csv_clock
from clinicsync.sync.discover.file_clock import written_at
from clinicsync.sync.discover.naming import connector_name, region_of
from clinicsync.sync.discover.proposal import Guess, Proposal
from clinicsync.sync.discover.scoring import mapping_from, score_columns
from clinicsync.sync.discover.statuses import rescheduled_note, status_words
from clinicsync.sync.discover.values import profile

EDGE_ROWS = 40  # rows kept from the start and from the end of the file
MIDDLE_ROWS = 40  # rows kept from everything between, evenly at random (seeded: the same file, the same sample)
_SUFFIXES = (".csv", ".txt", ".tsv")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass
class CsvSample:
    """What was read of one file: how, its header, and rows from across it."""

    path: Path
    encoding: str
    delimiter: str
    header: list[str]
    rows: list[dict[str, str]]
    total: int  # data rows in the file (blank lines and unreadable records not counted)
    unreadable: int  # records the reader could not read, or with the wrong number of fields


def _delimiter_name(delimiter: str) -> str:
    return _DELIMITER_NAMES.get(delimiter, repr(delimiter))


def export_file(path: Path) -> Path:
    """The file to read: ``path`` itself, or the newest export in a folder."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise ValueError(f"no such file or folder: {path}")
    files = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES]
    if not files:
        raise ValueError(f"no .csv file in {path}: give the folder the clinic's system exports into, "
                         "with one export in it")
    return max(files, key=lambda p: (p.stat().st_mtime, p.name))


def read_sample(path: Path) -> CsvSample:
    """Read ``path`` whole (streaming) and keep a sample of its rows, as the connector reads them."""
    info = inspect_file(path, "auto")
    first_rows: list[dict[str, str]] = []
    last_rows: deque[tuple[int, dict[str, str]]] = deque(maxlen=EDGE_ROWS)
    middle: list[tuple[int, dict[str, str]]] = []
    chooser = random.Random(34)
    total = unreadable = 0
    with path.open("r", encoding=info.encoding, errors=MARK_ERRORS, newline="") as handle:
        reader = CsvRecords(handle, info.encoding)
        delimiter = reader.delimiter = _sniff_delimiter(reader.first_line())
        first = reader.next_record()
        if first is None or not first.fields or not any(f.strip() for f in first.fields):
            raise ValueError(f"{path.name}: no header row (the file is empty or starts with a blank line)")
        header = [h.strip() for h in first.fields]
        header[0] = header[0].lstrip("\ufeff").strip()
        reader.width = len(header)
        seen_middle = 0
        for _line, fields, _problem, _raw in reader:
            if fields is None or (fields and len(fields) != len(header)):
                unreadable += 1
                continue
            if not "".join(fields).strip():
                continue
            row = dict(zip(header, fields, strict=True))
            total += 1
            if len(first_rows) < EDGE_ROWS:
                first_rows.append(row)
                continue
            if len(last_rows) == EDGE_ROWS:  # the row leaving the tail joins the middle's draw
                leaving = last_rows[0]
                seen_middle += 1
                if len(middle) < MIDDLE_ROWS:
                    middle.append(leaving)
                elif (slot := chooser.randrange(seen_middle)) < MIDDLE_ROWS:
                    middle[slot] = leaving
            last_rows.append((total, row))
    rows = first_rows + [r for _, r in sorted(middle, key=lambda item: item[0])] + [r for _, r in last_rows]
    return CsvSample(path, info.encoding, delimiter, header, rows, total, unreadable)


def _csv_default() -> dict[str, Any]:
    data = yaml.safe_load((PRESETS_DIR / "csv_default.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _preset_columns(preset: dict[str, Any]) -> set[str]:
    columns: set[str] = set()
    for spec in (preset.get("fields") or {}).values():
        paths = spec.get("from")
        columns.update([paths] if isinstance(paths, str) else paths or [])
    return columns


def discover_csv(path: Path | str, *, name: str | None = None, timezone: str | None = None,
                 region: str | None = None, stored_times: str | None = None,
                 clinic_zone: str | None = None) -> Proposal:
    """Read the export at ``path`` (a file, or a folder: its newest export) and propose a
    ``kind: csv`` connector reading its folder, with the mapping for its columns.
    ``region`` (default: the country of ``timezone``, else US) reads phone numbers without a
    country code and decides d/m against m/d when no date says. ``timezone``: the visits' zone
    (else ``clinic_zone``, the settings file's); ``stored_times``: how the export writes
    date-times without an offset, when the admin knows (else told from it, csv_clock.py)."""
    given_convention(stored_times)
    file = export_file(Path(path))
    sample = read_sample(file)
    folder = file.parent
    region = region or region_of(timezone)
    name = name or connector_name(folder.name if folder.name not in ("", ".", "drop") else file.stem,
                                  "csv-export")
    connector: dict[str, Any] = {"name": name, "kind": "csv", "drop_dir": str(folder.resolve())}
    notes: dict[str, str] = {
        "name": "from the folder's name" if name == connector_name(folder.name, "") else "the connector's name",
        "drop_dir": f"the folder {file.name} is in: every *{file.suffix.lower()} file dropped here is read once",
    }
    if file.suffix.lower() != ".csv":
        connector["pattern"] = f"*{file.suffix.lower()}"
        notes["pattern"] = f"the export is a {file.suffix.lower()} file"
    connector["mode"] = "delta"
    notes["mode"] = ("each row adds or updates one appointment; use snapshot when every export lists all "
                     "upcoming appointments (then a row that disappears is a deletion)")
    if sample.encoding not in ("utf-8", "utf-8-sig"):
        connector["encoding"] = sample.encoding
        notes["encoding"] = f"the file is {display_name(sample.encoding)} (no UTF-8): found in its bytes"
    if sample.delimiter != ",":
        connector["delimiter"] = sample.delimiter
        notes["delimiter"] = f"the header is split by a {_delimiter_name(sample.delimiter)}"
    if timezone:
        connector["timezone"] = timezone
        notes["timezone"] = "given to discover: the zone of the export's wall-clock times"
    proposal = Proposal(kind="csv", name=name, product=None, product_confidence=0.0, connector=connector,
                        connector_notes=notes)
    proposal.notes.append(f"read {file.name}: {sample.total} rows, {display_name(sample.encoding)}, "
                          f"{_delimiter_name(sample.delimiter)}-separated; "
                          f"{len(sample.rows)} sampled from its start, middle and end")
    if sample.unreadable:
        proposal.notes.append(f"{sample.unreadable} record(s) could not be read as rows of the header's width: "
                              "they are set aside at import")
    preset = _csv_default()
    if {"appointment_id", "start"} <= set(sample.header) and set(sample.header) <= _preset_columns(preset):
        _as_csv_default(proposal, sample, preset, region)
    else:
        _by_shape(proposal, sample, region)
    _mode(proposal, sample)
    _clock(proposal, sample, timezone or clinic_zone, stored_times, region)
    return proposal


def _clock(proposal: Proposal, sample: CsvSample, visit_zone: str | None, given: str | None, region: str) -> None:
    """``stored_times`` from the export itself (csv_clock.py): written when it is utc or was
    given, else a note; nothing when every start carries its own offset."""
    try:
        readings = [compile_proposal(proposal, zone, region) for zone in PROBE_ZONES]
    except (MappingError, ValueError):
        return  # the proposal does not compile: check says why, there is no time to read
    clock = settle_csv_clock(proposal, readings, sample.rows, sample.header, written_at(sample.path), visit_zone,
                             given, region)
    if clock is None:
        return
    write_clock(proposal, clock)
    if clock.stored_times == "utc" and "timezone" in proposal.connector:
        proposal.connector_notes["timezone"] = "given to discover: the zone of the visits (the export's times are UTC)"


def _ids(path: Path, encoding: str, delimiter: str, column: str) -> set[str]:
    """Every value of ``column`` in ``path`` (the appointment ids of an export)."""
    ids: set[str] = set()
    with path.open("r", encoding=encoding, errors=MARK_ERRORS, newline="") as handle:
        reader = CsvRecords(handle, encoding)
        reader.delimiter = delimiter
        first = reader.next_record()
        header = [h.strip().lstrip("\ufeff") for h in (first.fields or [])] if first else []
        if column not in header:
            return ids
        at = header.index(column)
        reader.width = len(header)
        for _line, fields, _problem, _raw in reader:
            if fields and len(fields) == len(header) and fields[at].strip():
                ids.add(fields[at].strip())
    return ids


def _mode(proposal: Proposal, sample: CsvSample) -> None:
    """delta or snapshot, from two exports side by side: when most appointments of the
    previous export are listed again, each export is the whole schedule (snapshot)."""
    id_guess = next((g for g in proposal.guesses if g.field == "external_id"), None)
    if id_guess is None or " + " in id_guess.source:
        return
    others = sorted((p for p in sample.path.parent.iterdir()
                     if p.is_file() and p != sample.path and p.suffix.lower() == sample.path.suffix.lower()),
                    key=lambda p: (p.stat().st_mtime, p.name))
    if not others:
        return
    previous = others[-1]
    info = inspect_file(previous, "auto")
    before = _ids(previous, info.encoding, sample.delimiter, id_guess.source)
    now = _ids(sample.path, sample.encoding, sample.delimiter, id_guess.source)
    if not before or not now:
        return
    share = len(before & now) / min(len(before), len(now))
    seen = f"{round(share * 100)}% of the appointments in {previous.name} are listed again in {sample.path.name}"
    if share >= 0.5:
        proposal.connector["mode"] = "snapshot"
        proposal.connector_notes["mode"] = (f"{seen}: each export is the whole schedule, so an appointment that "
                                            "disappears from it is a deletion")
    else:
        proposal.connector_notes["mode"] = f"{seen}: each export carries changes, each row adds or updates one"


def _as_csv_default(proposal: Proposal, sample: CsvSample, preset: dict[str, Any], region: str) -> None:
    """The header is clinicsync's own drop format: the preset, plus only what this file needs beyond it."""
    proposal.product, proposal.product_confidence = "csv_default", 1.0
    by_column = {spec["from"]: field for field, spec in preset["fields"].items() if isinstance(spec.get("from"), str)}
    proposal.guesses = [Guess(by_column[c], c, 1.0, "csv_default's own column", {"from": c})
                        for c in sample.header if c in by_column]
    known = {k.lower() for k in preset.get("status_map") or {}} | STATUSES
    words = status_words([row.get("status") for row in sample.rows]) if "status" in sample.header else []
    proposal.status_words = words
    extra_status = {w.value: w.status for w in words if w.value.strip().lower() not in known and w.status}
    unknown = [w.value for w in words if w.value.strip().lower() not in known and w.status is None]
    formats = list(preset.get("datetime_formats") or [])
    needed = []
    for column in ("start", "end"):
        if column in sample.header:
            found = profile([row.get(column) for row in sample.rows], region).datetime_format
            if found and found not in formats and found not in needed:
                needed.append(found)
    if unknown:
        proposal.notes.append(f"{len(unknown)} status word(s) csv_default does not know: give each its status in "
                              "the mapping's status_map, else those rows are quarantined")
    if not extra_status and not needed:
        proposal.mapping_preset = "csv_default"
        return
    mapping: dict[str, Any] = {"extends": "csv_default"}
    if needed:
        mapping["datetime_formats"] = formats + needed
    if extra_status:
        mapping["status_map"] = extra_status
    proposal.mapping = mapping


def _by_shape(proposal: Proposal, sample: CsvSample, region: str) -> None:
    """Any other header: each column placed by name and values."""
    columns = [ColumnSample(c, None, [row.get(c) or None for row in sample.rows]) for c in sample.header]
    scored = score_columns(columns, region=region)
    proposal.guesses = list(scored.guesses)
    proposal.status_words = list(scored.status_words)
    proposal.unplaced = list(scored.unplaced)
    proposal.notes.extend(scored.notes)
    mapping = mapping_from(scored, proposal.name)
    mapping.pop("name", None)  # the writer names the file
    proposal.mapping = mapping
    missing = [f for f in ("external_id", "start") if f not in mapping["fields"]]
    if missing:
        proposal.notes.append(f"no column found for {', '.join(missing)}: the mapping needs it; name the column "
                              "in the mapping file")
    moved = rescheduled_note(scored.status_words)
    if moved is not None:
        proposal.notes.append(moved)
    unknown = [w.value for w in scored.status_words if w.status is None]
    if unknown:
        proposal.notes.append(f"{len(unknown)} status word(s) not known: give each its status in the mapping's "
                              "status_map, else those rows are quarantined")
