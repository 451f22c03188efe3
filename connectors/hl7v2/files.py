"""HL7 v2 batch files dropped in a folder (connector kind ``hl7v2``): each file is read
once by content hash, its messages stored in batches, then the file is archived, as the
CSV drop does (connectors/dropfolder.py). A crash mid-file resumes after the last
stored batch. The MLLP side of the same connector is service.py (``hl7 listen``).

A message that cannot be read, or is no SIU, is rejected to quarantine; SIU events not
in ``events`` are skipped; ``delete_triggers`` (S17) delete the appointment.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from connectors.base import Batch, CheckResult, Connector, Cursor, RawRecord, Rejected
from connectors.dropfolder import (
    archive_file,
    drop_cursor,
    file_digest,
    folder_problem,
    remember,
    resume_point,
    settled_files,
)
from connectors.hl7v2.parse import Hl7ParseError, ParsedMessage, decode, parse_message, split_messages, type_problem
from connectors.hl7v2.settings import Hl7v2Settings


class Hl7v2Connector(Connector):
    kind = "hl7v2"
    settings_model = Hl7v2Settings
    settings: Hl7v2Settings

    def check(self) -> CheckResult:
        parts = []
        s = self.settings
        if s.listen is not None:
            tls = " with TLS" if s.listen.tls else ""
            parts.append(f"MLLP on {s.listen.host}:{s.listen.port}{tls} (run `clinicsync hl7 listen`)")
        if s.drop_dir is not None:
            problem = folder_problem(s.drop_dir, s.archive_dir)
            if problem:
                return CheckResult(False, problem)
            parts.append(f"drop folder readable, {len(self._candidates())} file(s) waiting or kept")
        return CheckResult(True, "; ".join(parts))

    def _candidates(self) -> list[Path]:
        s = self.settings
        if s.drop_dir is None:
            return []
        return settled_files(self.name, s.drop_dir, s.pattern, s.settle_seconds)

    def fetch(self, cursor: Cursor | None) -> Iterator[Batch]:
        done, current = resume_point(cursor)
        for path in self._candidates():
            digest = file_digest(path)
            if digest in done:
                self._archive(path)  # stored before a crash, not yet moved
                continue
            skip = current.get("rows", 0) if current.get("hash") == digest else 0
            yield from self._read_file(path, digest, done, skip)
            done = remember(done, digest, path.name)
            self._archive(path)

    def _archive(self, path: Path) -> None:
        if not self.dry_run:
            archive_file(path, self.settings.archive_dir)

    def _read_file(self, path: Path, digest: str, done: dict[str, str], skip: int) -> Iterator[Batch]:
        name = path.name
        finished = drop_cursor(remember(done, digest, name))
        try:
            text = decode(path.read_bytes(), self.settings.encoding)
        except UnicodeDecodeError:
            yield Batch(rejected=[Rejected(name, f"not valid {self.settings.encoding} text (see `encoding`)")],
                        cursor=finished, source=name)
            return
        records: list[RawRecord] = []
        rejected: list[Rejected] = []
        messages = split_messages(text)
        for number, message in enumerate(messages, start=1):
            if number <= skip:
                continue
            position = f"{name}#{number}"
            try:
                parsed = parse_message(message)
            except Hl7ParseError as exc:
                rejected.append(Rejected(position, exc.reason, raw=message))
            else:
                problem = type_problem(parsed)
                if problem:
                    rejected.append(Rejected(position, problem, raw=message))
                elif parsed.event in self.settings.events:
                    records.append(raw_record(parsed, self.settings, f"{position} MSH-10={parsed.control_id}"))
            if len(records) + len(rejected) >= self.settings.batch_size and number < len(messages):
                yield Batch(records, drop_cursor(done, digest, number), rejected, source=name)
                records, rejected = [], []
        yield Batch(records, finished, rejected, source=name)


def raw_record(parsed: ParsedMessage, settings: Hl7v2Settings, position: str) -> RawRecord:
    """A parsed SIU message as the mapping reads it: with the sender's zone, and marked for
    deletion when its trigger deletes (S17)."""
    record = dict(parsed.record)
    if settings.timezone:
        record["timezone"] = settings.timezone
    return RawRecord(record, position, delete=parsed.event in settings.delete_triggers)
