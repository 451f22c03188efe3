"""HL7 v2 batch files dropped in a folder (connector kind ``hl7v2``): each file is read
once by content hash, its messages stored in batches, then the file is archived, as the
CSV drop does (connectors/dropfolder.py). A crash mid-file resumes after the last
stored batch. The MLLP side of the same connector is service.py (``hl7 listen``).

A message that cannot be read, or is no SIU, is rejected to quarantine; SIU events not
in ``events`` are skipped; ``delete_triggers`` (S17) delete the appointment.

Message control ids are recorded as the MLLP side records them (connectors/hl7v2/model.py),
in the batch's transaction: a different message under an id already used is applied with a
warning naming the id, exactly as over MLLP; an identical replay (MSH-7 aside) is left out,
as MLLP answers it without applying it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import structlog
from sqlalchemy import Connection

from clinicsync.connectors.base import Batch, CheckResult, Connector, Cursor, RawRecord, Rejected, Sample
from clinicsync.connectors.dropfolder import (
    FilesRead,
    archive_file,
    file_digest,
    folder_problem,
    folder_state,
    sample_file,
    settled_files,
)
from clinicsync.connectors.hl7v2.model import CONTROL_ID_MAX, answered, message_digest, record_answer
from clinicsync.connectors.hl7v2.parse import (
    Hl7ParseError,
    ParsedMessage,
    decode,
    parse_message,
    split_messages,
    type_problem,
)
from clinicsync.connectors.hl7v2.settings import Hl7v2Settings
from clinicsync.connectors.hl7v2.tls_files import certificate_words

log = structlog.get_logger("clinicsync.hl7v2")
# (position, sender, control id, trigger event, digest) of each message a batch applies
MessageId = tuple[str, str, str, str, str]


def record_ids(connector: str, ids: list[MessageId]) -> Callable[[Connection], set[str]] | None:
    """The batch's ``within``: record each message's control id; a replay of a message
    already recorded is left out (its position returned), one reused for a different
    message is applied with a warning naming the id, as over MLLP."""
    if not ids:
        return None

    def within(connection: Connection) -> set[str]:
        replays: set[str] = set()
        known: dict[tuple[str, str], str] = {}  # the digest each id stands for so far
        for position, sender, control_id, event, digest in ids:
            key = (sender, control_id)
            if key not in known:
                stored = answered(connection, connector, sender, control_id)
                if stored is None:
                    record_answer(connection, connector, sender, control_id, "AA", event, digest)
                    known[key] = digest
                    continue
                known[key] = stored.digest or digest
            if known[key] == digest:
                replays.add(position)
                continue
            log.warning("hl7.control_id_reused", connector=connector, control_id=control_id, trigger=event,
                        action="applied: the message differs from the one first sent with this id")
            record_answer(connection, connector, sender, control_id, "AA", event, digest, reused=True)
            known[key] = digest
        return replays

    return within


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
            if s.listen.tls is not None:
                problem, note = certificate_words(s.listen.tls)
                if problem:
                    return CheckResult(False, problem)
                parts.append(note)
        if s.drop_dir is not None:
            problem = folder_problem(s.drop_dir, s.archive_dir)
            if problem:
                return CheckResult(False, problem)
            parts.append(folder_state(self.name, s.drop_dir, s.pattern, s.settle_seconds))
        return CheckResult(True, "; ".join(parts))

    def sample(self, limit: int) -> Sample | None:
        """The first messages of the first waiting batch file (else the newest archived one);
        nothing is moved or remembered. A listener-only connector has nothing to sample."""
        s = self.settings
        if s.drop_dir is None:
            return None
        path = sample_file(self.name, s.drop_dir, s.archive_dir, s.pattern)
        if path is None:
            return None
        first = next(self._read_file(path, file_digest(path), FilesRead({}), 0))  # dropped at once: its file closes
        return Sample(first.records[:limit], path.name, None, first.rejected[:limit])

    def _candidates(self) -> list[Path]:
        s = self.settings
        if s.drop_dir is None:
            return []
        return settled_files(self.name, s.drop_dir, s.pattern, s.settle_seconds)

    def fetch(self, cursor: Cursor | None) -> Iterator[Batch]:
        files, current = FilesRead.load(cursor)
        kept_in_place = self.settings.archive_dir is None
        for path in self._candidates():
            if files.passed(path, path.stat(), kept_in_place):
                self._archive(path)  # stored before a crash, not yet moved
                continue
            digest = file_digest(path)
            if digest in files:
                files = files.completed(digest, path)
                self._archive(path)
                continue
            skip = current.get("rows", 0) if current.get("hash") == digest else 0
            yield from self._read_file(path, digest, files, skip)
            files = files.with_file(digest, path)
            self._archive(path)

    def _archive(self, path: Path) -> None:
        if not self.dry_run:
            archive_file(path, self.settings.archive_dir)

    def _read_file(self, path: Path, digest: str, files: FilesRead, skip: int) -> Iterator[Batch]:
        name = path.name
        finished = files.with_file(digest, path).cursor()
        try:
            text = decode(path.read_bytes(), self.settings.encoding)
        except UnicodeDecodeError:
            yield Batch(rejected=[Rejected(name, f"not valid {self.settings.encoding} text (see `encoding`)")],
                        cursor=finished, source=name)
            return
        records: list[RawRecord] = []
        rejected: list[Rejected] = []
        ids: list[MessageId] = []
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
                    record = raw_record(parsed, self.settings, f"{position} MSH-10={parsed.control_id}")
                    records.append(record)
                    if 0 < len(parsed.control_id) <= CONTROL_ID_MAX:
                        ids.append((record.position, parsed.sender, parsed.control_id, parsed.event,
                                    message_digest(parsed.record["message"])))
            if len(records) + len(rejected) >= self.settings.batch_size and number < len(messages):
                yield Batch(records, files.cursor(digest, number), rejected, source=name,
                            within=record_ids(self.name, ids))
                records, rejected, ids = [], [], []
        yield Batch(records, finished, rejected, source=name, within=record_ids(self.name, ids))


def raw_record(parsed: ParsedMessage, settings: Hl7v2Settings, position: str) -> RawRecord:
    """A parsed SIU message as the mapping reads it: with the sender's zone, and marked for
    deletion when its trigger deletes (S17). A sender that writes UTC (``stored_times: utc``)
    says nothing of the visits' zone by its clock: ``timezone`` is then the mapping's default,
    after a place's zone (clinic.places), as for every source that stores UTC."""
    record = dict(parsed.record)
    if settings.timezone and settings.stored_times == "local":
        record["timezone"] = settings.timezone
    return RawRecord(record, position, delete=parsed.event in settings.delete_triggers)
