"""One received message, start to finish: parse, map, store, and the ACK to answer.

The answer follows the store: AA once the message's changes and its control id are
committed in one transaction; AE when it parsed but did not map (quarantined with the
reason); AR when it cannot be read or is no SIU message (quarantined too, so nothing
is lost). A control id already answered for the same message (MSH-7 aside) gets the
original ACK again and changes nothing; a different message under a used id (a sender's
counter restarted) is applied like a new one, with a warning naming the id, as the file
path does (connectors/hl7v2/files.py).
A store failure raises: no ACK is sent, so the sender sends the message again. Only a
message the database refuses as data (a value longer than its column) is quarantined
and answered AE instead: resending it could never help, and would block the sender.

Mapping and storing go through the push contract (sync/ingest/push.py), the path every pushed
record takes: the connector's mapping, quarantine, change detection and the outbox, one
transaction at a time per connector (parsing and mapping of other messages go on
meanwhile), recorded in the listener's run. What is particular to HL7 stays here: the
control id, claimed in the same transaction as the message's changes, and the ACK.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import hl7
import structlog
from sqlalchemy import Connection
from sqlalchemy.exc import DataError, IntegrityError

from clinicsync.connectors.hl7v2.ack import AckCode, build_ack
from clinicsync.connectors.hl7v2.files import raw_record
from clinicsync.connectors.hl7v2.model import (
    CONTROL_ID_MAX,
    Answer,
    answered,
    forget_older,
    message_digest,
    record_answer,
)
from clinicsync.connectors.hl7v2.parse import Hl7ParseError, ParsedMessage, decode, parse_message, type_problem
from clinicsync.connectors.hl7v2.settings import Hl7v2Settings
from clinicsync.mappings.engine import CompiledMapping
from clinicsync.sync.ingest.push import PushReceiver
from clinicsync.sync.store.store import Counts, Mapped, QuarantineEntry, Store

log = structlog.get_logger("clinicsync.hl7v2")


@dataclass(frozen=True)
class Reply:
    code: AckCode
    ack: str  # the ACK message text (HL7, \r separators)
    duplicate: bool = False


@dataclass
class Receiver:
    config: Hl7v2Settings
    mapping: CompiledMapping
    store: Store
    run_id: str
    # The sources the settings name: a message to this source before it stored a visit is not
    # stored, and not acknowledged (the sender resends), while another source is orphaned
    # (sync/ingest/push.py ``OrphanedPushRefused``, the way a store outage is answered).
    configured: frozenset[str] | None = None
    push: PushReceiver = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.push = PushReceiver(None, self.store, self.config, mapping=self.mapping, run_id=self.run_id,
                                 configured=self.configured)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def counts(self) -> Counts:
        """What this listener stored in its run (``run_id``)."""
        return self.push.counts

    def forget_old_ids(self) -> int:
        with self.store.engine.begin() as connection:
            return forget_older(connection, self.name, self.config.control_id_retention_days)

    def handle(self, data: bytes, peer: str) -> Reply:
        """Blocking (database work): run it in a thread from the event loop."""
        position = f"mllp {peer}"
        try:
            text = decode(data, self.config.encoding)
        except UnicodeDecodeError:
            return self._refuse(None, position, f"not valid {self.config.encoding} text", data.decode("latin-1"))
        try:
            parsed = parse_message(text)
        except Hl7ParseError as exc:
            return self._refuse(exc.message, position, exc.reason, text)
        problem = _unacceptable(parsed)
        if problem and not _usable_id(parsed):  # nothing to remember it by
            return self._refuse(parsed.message, position, problem, parsed.record["message"])
        position = f"{position} MSH-10={parsed.control_id}"
        digest = message_digest(parsed.record["message"])
        previous = self._answered(parsed)
        reused = previous is not None and not previous.same_message(digest)
        if previous is not None and not reused:
            return self._duplicate(parsed, previous)
        if reused:
            log.warning("hl7.control_id_reused", connector=self.name, control_id=parsed.control_id,
                        trigger=parsed.event, action="applied: the message differs from the one first sent "
                                                     "with this id")
        if problem:
            entry = QuarantineEntry(position, f"rejected (AR): {problem}", raw=parsed.record["message"])
            return self._store(parsed, "AR", position, entry, text=problem, digest=digest, reused=reused)
        if parsed.event not in self.config.events:
            return self._store(parsed, "AA", position, None, text="trigger event not applied here; ignored",
                               digest=digest, reused=reused)
        return self._store(parsed, None, position, None, digest=digest, reused=reused)

    def _refuse(self, message: hl7.Message | None, position: str, reason: str, raw: str) -> Reply:
        """AR for what has no usable control id: quarantined, nothing to remember."""
        entry = QuarantineEntry(position, f"rejected (AR): {reason}", raw=raw)
        self.push.commit([], [entry])
        log.warning("hl7.rejected", connector=self.name, peer=position, reason=reason)
        return Reply("AR", build_ack("AR", message, reason))

    def _store(self, parsed: ParsedMessage, code: AckCode | None, position: str,
               entry: QuarantineEntry | None, text: str | None = None, refusal: bool = False,
               digest: str | None = None, reused: bool = False) -> Reply:
        """Apply the message (unless ``code`` is already decided) with its control id, in
        one transaction. A concurrent copy of the same message loses on the id's key."""
        mapped: list[Mapped] = []
        quarantined = [entry] if entry is not None else []
        if code is None:
            mapped, quarantined = self.push.map(raw_record(parsed, self.config, position))
            code = "AA" if mapped else "AE"
            if quarantined:  # keep the message as received, not its parsed record
                problem = quarantined[0] = replace(quarantined[0], raw=parsed.record["message"])
                text = f"{problem.field}: {problem.reason}" if problem.field else problem.reason
        decided: AckCode = code
        answer_text = text

        def claim(connection: Connection) -> None:
            record_answer(connection, self.name, parsed.sender, parsed.control_id, decided, parsed.event,
                          digest, answer_text, reused)

        try:
            counts = self.push.commit(mapped, quarantined, within=claim)
        except IntegrityError:
            previous = self._answered(parsed)
            if previous is None:
                raise
            return self._duplicate(parsed, previous)
        except DataError as exc:
            if refusal:
                raise  # even the bare quarantine entry is refused: leave it to the sender
            reason = f"the store refused a value ({type(exc.orig).__name__}), e.g. longer than its column"
            entry = QuarantineEntry(position, reason, raw=parsed.record["message"])
            return self._store(parsed, "AE", position, entry, text=reason, refusal=True, digest=digest,
                               reused=reused)
        log.info("hl7.message", connector=self.name, control_id=parsed.control_id, trigger=parsed.event,
                 ack=decided, **{k: v for k, v in counts.as_dict().items() if v})
        return Reply(decided, build_ack(decided, parsed.message, text))

    def _duplicate(self, parsed: ParsedMessage, previous: Answer) -> Reply:
        """The original ACK (its code and text) for a replay of the same message."""
        code = _CODES.get(previous.ack_code, "AA")
        log.info("hl7.duplicate", connector=self.name, control_id=parsed.control_id, ack=code)
        text = previous.ack_text
        if text is None and code != "AA":  # recorded before ACK texts were kept
            text = "duplicate of a message already answered with this code"
        return Reply(code, build_ack(code, parsed.message, text), duplicate=True)

    def _answered(self, parsed: ParsedMessage) -> Answer | None:
        with self.store.engine.connect() as connection:
            return answered(connection, self.name, parsed.sender, parsed.control_id)


_CODES: dict[str, AckCode] = {"AA": "AA", "AE": "AE", "AR": "AR"}


def _unacceptable(parsed: ParsedMessage) -> str | None:
    problem = type_problem(parsed)
    if problem:
        return problem
    if not parsed.control_id:
        return "MSH-10 (message control id) is empty"
    if len(parsed.control_id) > CONTROL_ID_MAX:
        return f"MSH-10 (message control id) is longer than {CONTROL_ID_MAX} characters"
    return None


def _usable_id(parsed: ParsedMessage) -> bool:
    return 0 < len(parsed.control_id) <= CONTROL_ID_MAX
