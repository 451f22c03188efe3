"""CSV drop folder: new files are read in name order, each once (by content hash),
streamed in batches, then moved to an archive folder.

The cursor (connectors/dropfolder.py) records the files done by hash and the rows read
of the current one: a crash mid-file resumes after the last stored batch (delta mode)
or rereads the file whole (snapshot mode, whose deletions need the complete listing).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Literal, Protocol, TextIO

import orjson
from pydantic import Field, ValidationInfo, field_validator, model_validator

from clinicsync.common.settings_base import resolve_path
from clinicsync.common.timeutil import iso_z
from clinicsync.common.types import utcnow
from clinicsync.connectors.base import (
    SOURCE_ZONE_HELP,
    STORED_TIMES_HELP,
    Batch,
    CheckResult,
    Connector,
    ConnectorSettings,
    Cursor,
    FatalConnectorError,
    RawRecord,
    Rejected,
    RetriableConnectorError,
    Sample,
    StoredTimes,
    WritebackAction,
    WritebackUnsupported,
    min_delete_stop_field,
    source_zone,
)
from clinicsync.connectors.csv_formulas import neutralize_formula
from clinicsync.connectors.csv_records import KNOWN_PROBLEM, CsvRecords, Recognize, Utf8Lines
from clinicsync.connectors.dropfolder import (
    FilesRead,
    archive_file,
    file_digest,
    folder_problem,
    folder_state,
    sample_file,
    settled_files,
)
from clinicsync.connectors.text_encoding import MARK_ERRORS, Encoding, FileText, inspect_file

_KNOWN_SHARE = 16
RESPONSE_COLUMNS = ("appointment_id", "patient_id", "participant_status", "appointment_status", "answered_at")


class CsvDropSettings(ConnectorSettings):
    kind: Literal["csv"] = "csv"
    drop_dir: Path = Field(description="folder the clinic's system drops exports into")
    archive_dir: Path | None = Field(None, description="processed files move here; unset keeps them")
    pattern: str = "*.csv"
    mode: Literal["delta", "snapshot"] = Field(
        "delta", description="delta: each row upserts; snapshot: each file lists all upcoming appointments")
    encoding: Encoding = Field("auto", description="auto: a byte-order mark, else UTF-16 by its NUL pattern, "
                               "else UTF-8 unless most non-ASCII bytes are not (cp1252)")
    delimiter: str | None = Field(None, min_length=1, max_length=1, description="sniffed when unset")
    settle_seconds: float = Field(5.0, ge=0, description="files modified more recently are left for later")
    batch_size: int = Field(1000, ge=1, le=100_000)
    max_delete_share: float = Field(0.2, ge=0, le=1, description="snapshot safety stop")
    min_delete_stop: int = min_delete_stop_field()
    timezone: str | None = Field(None, description=SOURCE_ZONE_HELP)
    stored_times: StoredTimes = Field("local", description=STORED_TIMES_HELP)
    responses_file: Path | None = Field(
        None, description="patients' answers are appended here (CSV) for the clinic's system to import; "
                          "unset: no write-back")

    @field_validator("drop_dir", "archive_dir", "responses_file")
    @classmethod
    def _relative(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else resolve_path(value, info)

    zone_is_valid = field_validator("timezone")(source_zone)

    @model_validator(mode="after")
    def _not_read_back(self) -> CsvDropSettings:
        target = self.responses_file
        if target is not None and target.parent == self.drop_dir and target.match(self.pattern):
            raise ValueError("responses_file must not be a file the drop folder's pattern would read back")
        return self


class LineRecognizer(Protocol):
    """What the import gives the connector to leave out lines it knows unchanged before a
    record is built of them (sync/ingest/fingerprint.py LineRecognizer)."""

    def start_file(self, name: str, header: Sequence[str], delimiter: str) -> Recognize:
        """Begin a file; returns its line test (csv_records.Recognize): (number of the first
        line, the lines' UTF-8 bytes without their line breaks, start, stop) -> the index of
        the first line in [start, stop) the import does not know; those before it are left out."""

    def kept(self, number: int) -> None: ...


class CsvDropConnector(Connector):
    kind = "csv"
    reads_current_state = True  # a read of the source as it is now (Connector.reads_current_state)
    settings_model = CsvDropSettings
    settings: CsvDropSettings
    recognizer: LineRecognizer | None = None

    def check(self) -> CheckResult:
        problem = folder_problem(self.settings.drop_dir, self.settings.archive_dir)
        if problem:
            return CheckResult(False, problem)
        s = self.settings
        return CheckResult(True, folder_state(self.name, s.drop_dir, s.pattern, s.settle_seconds))

    def sample(self, limit: int) -> Sample | None:
        """The first rows of the first waiting file (else the newest archived one), read the
        way ``fetch`` reads them; nothing is moved or remembered."""
        s = self.settings
        path = sample_file(self.name, s.drop_dir, s.archive_dir, s.pattern)
        if path is None:
            return None
        # dropped at once: its file closes
        first = next(self._read_file(inspect_file(path, s.encoding), FilesRead({}), 0))
        columns = list(first.records[0].data) if first.records else None
        return Sample(first.records[:limit], path.name, columns, first.rejected[:limit])

    def writeback(self, action: WritebackAction) -> None:
        """Append the answer to the responses file (header first when new). An import reads
        the last line per appointment: a retry after a crash may repeat a line, never lose one.
        Cells a spreadsheet would run as formulas are written as text (csv_formulas)."""
        target = self.settings.responses_file
        if target is None:
            raise WritebackUnsupported(f"connector {self.name}: set `responses_file` to export patients' answers")
        row = [neutralize_formula(cell) for cell in (
            action.external_id, action.patient_ref or "", action.participant_status,
            action.appointment_status or "", iso_z(utcnow()))]
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("a", encoding="utf-8", newline="") as handle:
                out = csv.writer(handle)
                if handle.tell() == 0:
                    out.writerow(RESPONSE_COLUMNS)
                out.writerow(row)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise RetriableConnectorError(f"connector {self.name}: cannot append to the responses file "
                                          f"({exc.strerror})") from None

    def _candidates(self) -> list[Path]:
        s = self.settings
        return settled_files(self.name, s.drop_dir, s.pattern, s.settle_seconds)

    def fetch(self, cursor: Cursor | None) -> Iterator[Batch]:
        files, current = FilesRead.load(cursor)
        kept_in_place = self.settings.archive_dir is None
        for path in self._candidates():
            if files.passed(path, path.stat(), kept_in_place):
                self._archive(path)  # stored before a crash, not yet moved
                continue
            digest = file_digest(path)  # first: a file already read needs nothing more (no encoding pass)
            key = self._done_key(path, digest)
            if key in files:
                files = files.completed(key, path)
                self._archive(path)
                continue
            info = inspect_file(path, self.settings.encoding, digest)
            skip = current.get("rows", 0) if current.get("hash") == info.digest else 0
            yield from self._read_file(info, files, skip)
            files = files.with_file(key, path)
            self._archive(path)

    def _done_key(self, path: Path, digest: str) -> str:
        """What marks a file as read. A delta file is read once, whatever its name (the same
        rows again would change nothing). A snapshot is a state, not a change: an export
        equal to an older one (A, then B, then A again: a booking made and then deleted) must
        be applied, or the deletion is never seen; so a snapshot is known by its content and
        its modification time, which a file kept in the folder or left there by a crash
        before archiving keeps, and a new export has anew."""
        if self.settings.mode != "snapshot":
            return digest
        return f"{digest}@{path.stat().st_mtime_ns}"

    def _read_file(self, info: FileText, files: FilesRead, skip: int) -> Iterator[Batch]:
        snapshot = self.settings.mode == "snapshot"
        name = info.path.name
        finished = files.with_file(self._done_key(info.path, info.digest), info.path)
        with ExitStack() as stack:
            reader = CsvRecords(_open_lines(stack, info), info.encoding)
            reader.delimiter = self.settings.delimiter or _sniff_delimiter(reader.first_line())
            first = reader.next_record()
            header = [] if first is None or first.fields is None else [h.strip() for h in first.fields]
            if header:
                header[0] = header[0].lstrip("\ufeff").strip()  # a BOM the declared encoding kept
            problem = (f"unreadable CSV header: {first.problem}" if first is not None and first.problem
                       else self._header_problem(header))
            if problem:
                yield Batch(rejected=[Rejected(position=f"{name}:1", reason=problem, raw=None)],
                            cursor=finished.cursor(), snapshot=False, source=name)
                return
            reader.width = width = len(header)
            row_dict = _row_dict(header)
            rows = 0
            while rows < skip and reader.next_record() is not None:  # stored by the run that read this file before
                rows += 1
            recognizer = self.recognizer
            if recognizer is not None:  # after the skipped rows: none of them is recognized (or counted) again
                reader.recognize = recognizer.start_file(name, header, reader.delimiter)
            records: list[RawRecord] = []
            rejected: list[Rejected] = []
            in_batch = 0
            batch_size, keep = self.settings.batch_size, records.append  # the hot loop: names bound once
            # A batch's size in record units: a line the import knows unchanged weighs a
            # sixteenth of a record, so a re-export's batches (one transaction each) stay few;
            # the reader hands over at most ``budget`` known lines at once, so a batch closes
            # where it did when they came one by one.
            reader.budget = limit = batch_size * _KNOWN_SHARE
            for line, row, problem, raw in reader:
                if row is None:
                    if problem is KNOWN_PROBLEM:  # ``line`` lines known unchanged
                        rows += line
                        in_batch += line
                        if in_batch >= limit:
                            yield Batch(records, None if snapshot else files.cursor(info.digest, rows),
                                        rejected, snapshot=snapshot, source=name, texts=True)
                            records, rejected, in_batch = [], [], 0
                            keep = records.append
                        reader.budget = limit - in_batch
                        continue
                    rows += 1
                    rejected.append(Rejected(f"{name}:{line}", problem or "unreadable record", raw=raw))
                elif not (row and row[0].strip()) and not "".join(row).strip():  # blank (cheap test first)
                    rows += 1
                    continue
                elif len(row) != width:
                    rows += 1
                    rejected.append(Rejected(f"{name}:{line}", f"row has {len(row)} fields; the header has "
                                                               f"{width}", raw=orjson.dumps(row).decode()))
                else:
                    rows += 1
                    if row[0].startswith("\ufeff"):  # a BOM mid-file: exports joined by `cat`; not the id's
                        row[0] = row[0].lstrip("\ufeff")
                    # lengths checked above: the row's dict by the header's own dict display
                    # (_row_dict). (Built positionally, RawRecord cost more: a __dict__ instance's
                    # __class__ switch gives it a dict of its own, and the fetch got ~10 % slower.)
                    # Its values are the reader's fields, each exactly a str: the batches say so
                    # (Batch.texts), and the mapping skips its type tests.
                    keep(RawRecord(row_dict(*row), f"{name}:{line}"))
                    if recognizer is not None:
                        recognizer.kept(line)
                in_batch += _KNOWN_SHARE
                if in_batch >= limit:
                    yield Batch(records, None if snapshot else files.cursor(info.digest, rows),
                                rejected, snapshot=snapshot, source=name, texts=True)
                    records, rejected, in_batch = [], [], 0
                    keep = records.append
                reader.budget = limit - in_batch
        yield Batch(records, finished.cursor(), rejected, snapshot=snapshot, snapshot_end=snapshot,
                    max_delete_share=self.settings.max_delete_share,
                    min_delete_stop=self.settings.min_delete_stop, source=name, texts=True)

    def _header_problem(self, header: list[str]) -> str | None:
        if not any(header):
            return "no header row: the file is empty or starts with a blank line"
        if len(set(header)) != len(header):
            return "the header repeats a column name"
        missing = sorted(self.required_columns - set(header))
        if missing:  # the mapping and the export disagree: a settings error, before any row is read
            raise FatalConnectorError(
                f"connector {self.name}: the header has no column {', '.join(repr(c) for c in missing)}, which "
                f"mapping {self.settings.mapping!r} reads (quote a name with dots as `name.with dots` or give "
                "it with `column:`); no row was read")
        return None

    def _archive(self, path: Path) -> None:
        if not self.dry_run:
            archive_file(path, self.settings.archive_dir)


# Past this many columns a row's dict is built by zip (a display's source grows with the header).
_DISPLAY_COLUMNS = 256


def _row_dict(header: list[str]) -> Callable[..., dict[str, str]]:
    """A maker of a row's dict from its fields (exactly ``len(header)`` of them, checked by the
    caller): ``dict(zip(header, row))`` — the same keys, values and order — as one dict
    display with the header's names as constants, compiled once per file. Why: the display
    sizes the dict once where zip grows it twice (~30 % fewer instructions a row in
    isolation), and its keys are the compiled code's strings, which a generated
    mapping's look-ups of the same names find by identity. The names are written as their
    ``repr``, which reads back as the same string whatever it holds; a header repeats no
    name (``_header_problem``)."""
    if len(header) > _DISPLAY_COLUMNS:
        return lambda *row: dict(zip(header, row))  # noqa: B905 - the caller checked the lengths
    values = [f"v{i}" for i in range(len(header))]
    body = ", ".join(f"{name!r}: {value}" for name, value in zip(header, values, strict=True))
    made: Callable[..., dict[str, str]] = eval(  # noqa: S307 - names as literals (repr), nothing else of the file
        f"lambda {', '.join(values)}: {{{body}}}")
    return made


def _open_lines(stack: ExitStack, info: FileText) -> TextIO | Utf8Lines:
    """The file's lines: a UTF-8 file (most are) from its bytes (csv_records.Utf8Lines: the
    same lines, plain ones fingerprinted without a decode), any other as a text stream."""
    if info.encoding in ("utf-8", "utf-8-sig"):
        source = Utf8Lines(stack.enter_context(info.path.open("rb")), skip_bom=info.encoding == "utf-8-sig",
                           valid=info.valid_utf8)
        stack.callback(source.close)
        return source
    return stack.enter_context(info.path.open("r", encoding=info.encoding, errors=MARK_ERRORS, newline=""))


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample.split("\n", 20)[0] if sample else ",", delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


