"""The message control ids (MSH-10) already answered, per connector and sender, so that
a resent message is acknowledged again but never applied twice. The id is written in
the same transaction as the message's changes (Store.apply_batch ``within``).

With the id goes a digest of the message (all but MSH-7, the send time an engine may
restamp on a resend) and the ACK text: an identical replay gets the original ACK; a
*different* message under an id already used (a sender whose counter restarted) is
applied, with a warning naming the id, on the MLLP and the file path alike."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Connection, Index, Text, delete, insert, select, update
from sqlmodel import Field, SQLModel

from clinicsync.common.model_table import table_of
from clinicsync.common.types import UtcDateTime, utcnow

CONTROL_ID_MAX = 199  # HL7 v2.5+ (ST 199); longer ids are rejected, never truncated into another's
SENDER_MAX = 255


class Hl7Message(SQLModel, table=True):
    __tablename__ = "hl7message"
    __table_args__ = (Index("ix_hl7message_received", "received_at"),)

    connector: str = Field(primary_key=True, max_length=64)
    sender: str = Field(primary_key=True, max_length=SENDER_MAX)  # MSH-3^MSH-4
    control_id: str = Field(primary_key=True, max_length=CONTROL_ID_MAX)  # MSH-10
    ack_code: str = Field(max_length=2)  # AA | AE | AR, replayed to a resend
    event: str | None = Field(default=None, max_length=8)
    digest: str | None = Field(default=None, max_length=32)  # of the message without MSH-7
    ack_text: str | None = Field(default=None, sa_column=Column(Text))  # MSA-3 of the answer
    received_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


MESSAGES = table_of(Hl7Message)


@dataclass(frozen=True)
class Answer:
    """How a control id was answered: the code, the ACK text, and the message's digest."""

    ack_code: str
    ack_text: str | None
    digest: str | None  # None for ids recorded before digests were kept

    def same_message(self, digest: str) -> bool:
        return self.digest is None or self.digest == digest


def message_digest(text: str) -> str:
    """A digest of a message's content, MSH-7 (the send time) left out: an engine that
    restamps a resend still sends the same message."""
    segments = text.replace("\n", "\r").split("\r")
    msh = segments[0]
    if msh.startswith("MSH") and len(msh) > 3:
        fields = msh.split(msh[3])
        if len(fields) > 6:
            fields[6] = ""
        segments[0] = msh[3].join(fields)
    canonical = "\r".join(s for s in segments if s)
    return hashlib.blake2b(canonical.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def answered(connection: Connection, connector: str, sender: str, control_id: str) -> Answer | None:
    """How a message with this id was answered, or None if the id is new."""
    row = connection.execute(
        select(MESSAGES.c.ack_code, MESSAGES.c.ack_text, MESSAGES.c.digest)
        .where(MESSAGES.c.connector == connector, MESSAGES.c.sender == sender,
               MESSAGES.c.control_id == control_id)).one_or_none()
    return None if row is None else Answer(row.ack_code, row.ack_text, row.digest)


def record_answer(connection: Connection, connector: str, sender: str, control_id: str, ack_code: str,
                  event: str | None, digest: str | None = None, ack_text: str | None = None,
                  reused: bool = False) -> None:
    """Insert the id (a concurrent copy of the same message fails here on the primary key),
    or, for a different message under a used id (``reused``), replace what it was answered."""
    values = {"ack_code": ack_code, "event": (event or "")[:8] or None, "digest": digest, "ack_text": ack_text,
              "received_at": utcnow()}
    if reused:
        connection.execute(update(MESSAGES).where(
            MESSAGES.c.connector == connector, MESSAGES.c.sender == sender, MESSAGES.c.control_id == control_id)
            .values(**values))
        return
    connection.execute(insert(MESSAGES).values(connector=connector, sender=sender, control_id=control_id, **values))


def forget_older(connection: Connection, connector: str, days: int) -> int:
    cutoff = utcnow() - timedelta(days=days)
    result = connection.execute(
        delete(MESSAGES).where(MESSAGES.c.connector == connector, MESSAGES.c.received_at < cutoff))
    return int(result.rowcount or 0)
