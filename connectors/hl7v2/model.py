"""The message control ids (MSH-10) already answered, per connector and sender, so that
a resent message is acknowledged again but never applied twice. The id is written in
the same transaction as the message's changes (Store.apply_batch ``within``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Column, Connection, Index, delete, insert, select
from sqlmodel import Field, SQLModel

from sync.types import UtcDateTime, utcnow

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
    received_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


MESSAGES = Hl7Message.__table__  # type: ignore[attr-defined]


def answered(connection: Connection, connector: str, sender: str, control_id: str) -> str | None:
    """The ACK code a message with this id got, or None if it is new."""
    return connection.execute(
        select(MESSAGES.c.ack_code).where(MESSAGES.c.connector == connector, MESSAGES.c.sender == sender,
                                          MESSAGES.c.control_id == control_id)).scalar_one_or_none()


def record_answer(connection: Connection, connector: str, sender: str, control_id: str, ack_code: str,
                  event: str | None) -> None:
    """Insert the id; a concurrent copy of the same message fails here on the primary key."""
    connection.execute(insert(MESSAGES).values(
        connector=connector, sender=sender, control_id=control_id, ack_code=ack_code, event=(event or "")[:8] or None,
        received_at=utcnow()))


def forget_older(connection: Connection, connector: str, days: int) -> int:
    cutoff = utcnow() - timedelta(days=days)
    result = connection.execute(
        delete(MESSAGES).where(MESSAGES.c.connector == connector, MESSAGES.c.received_at < cutoff))
    return int(result.rowcount or 0)
