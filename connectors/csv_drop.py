"""CSV drop folder: new files are read in name order, each once (by content hash),
streamed in batches, then moved to an archive folder.

The cursor is ``{"done": {hash: name}, "current": {"hash": h, "rows": n}}``: a crash
mid-file resumes after the last stored batch (delta mode) or rereads the file whole
(snapshot mode, whose deletions need the complete listing).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson
from pydantic import Field, ValidationInfo, field_validator, model_validator

from connectors.base import (
    Batch,
    CheckResult,
    Connector,
    ConnectorSettings,
    Cursor,
    FatalConnectorError,
    RawRecord,
    Rejected,
    RetriableConnectorError,
    WritebackAction,
    WritebackUnsupported,
)
from mappings.timeutil import iso_z
from sync.settings_base import resolve_path
from sync.types import utcnow

RESPONSE_COLUMNS = ("appointment_id", "patient_id", "participant_status", "appointment_status", "answered_at")

_DONE_LIMIT = 10_000
_SNIFF_BYTES = 64 * 1024
_IGNORED_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")


class CsvDropSettings(ConnectorSettings):
    kind: Literal["csv"] = "csv"
    drop_dir: Path = Field(description="folder the clinic's system drops exports into")
    archive_dir: Path | None = Field(None, description="processed files move here; unset keeps them")
    pattern: str = "*.csv"
    mode: Literal["delta", "snapshot"] = Field(
        "delta", description="delta: each row upserts; snapshot: each file lists all upcoming appointments")
    encoding: Literal["auto", "utf-8", "utf-8-sig", "latin-1", "cp1252"] = "auto"
    delimiter: str | None = Field(None, min_length=1, max_length=1, description="sniffed when unset")
    settle_seconds: float = Field(5.0, ge=0, description="files modified more recently are left for later")
    batch_size: int = Field(1000, ge=1, le=100_000)
    max_delete_share: float = Field(0.2, ge=0, le=1, description="snapshot safety stop")
    responses_file: Path | None = Field(
        None, description="patients' answers are appended here (CSV) for the clinic's system to import; "
                          "unset: no write-back")

    @field_validator("drop_dir", "archive_dir", "responses_file")
    @classmethod
    def _relative(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else resolve_path(value, info)

    @model_validator(mode="after")
    def _not_read_back(self) -> CsvDropSettings:
        target = self.responses_file
        if target is not None and target.parent == self.drop_dir and target.match(self.pattern):
            raise ValueError("responses_file must not be a file the drop folder's pattern would read back")
        return self


@dataclass(frozen=True)
class _FileInfo:
    path: Path
    digest: str
    encoding: str


def _digest_and_encoding(path: Path, configured: str) -> _FileInfo:
    """One streaming pass: the content hash, and (auto) whether the bytes are UTF-8."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    first = b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            if not first:
                first = chunk[:4]
            digest.update(chunk)
            if utf8 and configured == "auto":
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
    encoding = configured
    if configured == "auto":
        encoding = "utf-8-sig" if first.startswith(codecs.BOM_UTF8) else ("utf-8" if utf8 else "cp1252")
    return _FileInfo(path, digest.hexdigest(), encoding)


class CsvDropConnector(Connector):
    kind = "csv"
    settings_model = CsvDropSettings
    settings: CsvDropSettings

    def check(self) -> CheckResult:
        folder = self.settings.drop_dir
        if not folder.is_dir():
            return CheckResult(False, f"drop folder {folder} does not exist")
        if not os.access(folder, os.R_OK | os.X_OK):
            return CheckResult(False, f"drop folder {folder} is not readable")
        archive = self.settings.archive_dir
        if archive is not None and archive.exists() and not os.access(archive, os.W_OK):
            return CheckResult(False, f"archive folder {archive} is not writable")
        waiting = len(self._candidates())
        return CheckResult(True, f"drop folder readable, {waiting} file(s) waiting or kept")

    def writeback(self, action: WritebackAction) -> None:
        """Append the answer to the responses file (header first when new). An import reads
        the last line per appointment: a retry after a crash may repeat a line, never lose one."""
        target = self.settings.responses_file
        if target is None:
            raise WritebackUnsupported(f"connector {self.name}: set `responses_file` to export patients' answers")
        row = (action.external_id, action.patient_ref or "", action.participant_status,
               action.appointment_status or "", iso_z(utcnow()))
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
        folder = self.settings.drop_dir
        if not folder.is_dir():
            raise FatalConnectorError(f"connector {self.name}: drop folder {folder} does not exist")
        settled_before = time.time() - self.settings.settle_seconds
        files = []
        for path in sorted(folder.glob(self.settings.pattern)):
            if not path.is_file() or path.name.startswith(".") or path.name.endswith(_IGNORED_SUFFIXES):
                continue
            if path.stat().st_mtime > settled_before:
                continue  # probably still being written
            files.append(path)
        return files

    def fetch(self, cursor: Cursor | None) -> Iterator[Batch]:
        state = dict(cursor or {})
        done: dict[str, str] = dict(state.get("done", {}))
        current = state.get("current") or {}
        for path in self._candidates():
            info = _digest_and_encoding(path, self.settings.encoding)
            if info.digest in done:
                self._archive(path)  # stored before a crash, not yet moved
                continue
            skip = current.get("rows", 0) if current.get("hash") == info.digest else 0
            yield from self._read_file(info, done, skip)
            done[info.digest] = path.name
            if len(done) > _DONE_LIMIT:
                done = dict(list(done.items())[-_DONE_LIMIT:])
            self._archive(path)

    def _cursor(self, done: dict[str, str], digest: str | None = None, rows: int = 0) -> Cursor:
        return {"done": done, "current": {"hash": digest, "rows": rows} if digest else None}

    def _read_file(self, info: _FileInfo, done: dict[str, str], skip: int) -> Iterator[Batch]:
        snapshot = self.settings.mode == "snapshot"
        name = info.path.name
        finished = {**done, info.digest: name}
        with info.path.open("r", encoding=info.encoding, newline="") as handle:
            sample = handle.read(_SNIFF_BYTES)
            handle.seek(0)
            delimiter = self.settings.delimiter or _sniff_delimiter(sample)
            reader = csv.reader(handle, delimiter=delimiter)
            header = [h.strip() for h in next(reader, [])]
            problem = self._header_problem(header)
            if problem:
                yield Batch(rejected=[Rejected(position=f"{name}:1", reason=problem, raw=None)],
                            cursor=self._cursor(finished), snapshot=False, source=name)
                return
            records: list[RawRecord] = []
            rejected: list[Rejected] = []
            rows = 0
            while True:
                try:
                    row = next(reader, None)
                except csv.Error as exc:
                    rejected.append(Rejected(f"{name}:{reader.line_num}",
                                             f"unreadable CSV, rest of file skipped: {exc}"))
                    row = None
                if row is None:
                    break
                rows += 1
                if rows <= skip:
                    continue
                if not any(cell.strip() for cell in row):
                    continue
                position = f"{name}:{reader.line_num}"
                if len(row) != len(header):
                    rejected.append(Rejected(position, f"row has {len(row)} fields; the header has "
                                                       f"{len(header)}", raw=orjson.dumps(row).decode()))
                else:
                    records.append(RawRecord(dict(zip(header, row, strict=True)), position))
                if len(records) + len(rejected) >= self.settings.batch_size:
                    yield Batch(records, None if snapshot else self._cursor(done, info.digest, rows),
                                rejected, snapshot=snapshot, source=name)
                    records, rejected = [], []
        yield Batch(records, self._cursor(finished), rejected, snapshot=snapshot, snapshot_end=snapshot,
                    max_delete_share=self.settings.max_delete_share, source=name)

    def _header_problem(self, header: list[str]) -> str | None:
        if not any(header):
            return "no header row: the file is empty or starts with a blank line"
        if len(set(header)) != len(header):
            return "the header repeats a column name"
        missing = sorted(self.required_columns - set(header))
        if missing:
            return f"no recognizable header: required column(s) {missing} not found"
        return None

    def _archive(self, path: Path) -> None:
        archive = self.settings.archive_dir
        if archive is None or not path.exists():
            return
        archive.mkdir(parents=True, exist_ok=True)
        target = archive / path.name
        if target.exists():
            target = archive / f"{path.stem}.{int(time.time())}{path.suffix}"
        shutil.move(str(path), target)


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample.split("\n", 20)[0] if sample else ",", delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


