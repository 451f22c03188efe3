"""Receiver.handle without a socket: the answers for odd control ids, encodings and
resent rejections, and two copies of one message racing to the store."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DataError

from clinicsync.connectors.hl7v2.model import MESSAGES
from clinicsync.connectors.hl7v2.settings import Hl7v2Settings, MllpSettings
from clinicsync.mappings.engine import load_mapping
from clinicsync.sync.ingest.mllp_receiver import Receiver
from clinicsync.sync.store.model import Event, Quarantine
from clinicsync.sync.store.store import Store
from tests.connectors.hl7v2_support import Ack, capture_logs, siu  # noqa: F401 - an autouse fixture


def receiver(store: Store, **settings: Any) -> Receiver:
    config = Hl7v2Settings(name="siu", listen=MllpSettings(), **settings)
    return Receiver(config, load_mapping(config.mapping, "America/New_York", "US"), store, "run")


def ack(reply_text: str) -> Ack:
    return Ack.read(b"\x0b" + reply_text.encode() + b"\x1c\r")


def count(store: Store, table: Any) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_no_control_id_is_rejected_every_time_and_quarantined_once(store: Store) -> None:
    message = siu("S12", "", "20300301090000").encode()
    handler = receiver(store)
    first, second = handler.handle(message, "10.0.0.1"), handler.handle(message, "10.0.0.1")
    assert (first.code, second.code) == ("AR", "AR") and not second.duplicate
    assert ack(first.ack).text == "MSH-10 (message control id) is empty"
    # the same bytes twice: one work-list item seen twice (DESIGN invariant 8)
    with store.engine.connect() as connection:
        items = connection.execute(select(Quarantine.__table__.c.seen_count)).scalars().all()  # type: ignore[attr-defined]
    assert items == [2]
    assert count(store, MESSAGES) == 0


def test_a_control_id_too_long_to_remember_is_rejected(store: Store) -> None:
    reply = receiver(store).handle(siu("S12", "X" * 200, "20300301090000").encode(), "10.0.0.1")
    assert reply.code == "AR" and "longer than 199" in ack(reply.ack).text


def test_a_rejected_message_resent_is_rejected_again_but_quarantined_once(store: Store) -> None:
    message = b"MSH|^~\\&|EPIC|HOSP|||20300301||ORM^O01|ORD1|P|2.5\rPID|1||P1\r"
    handler = receiver(store)
    first, again = handler.handle(message, "10.0.0.1"), handler.handle(message, "10.0.0.1")
    assert (first.code, again.code, again.duplicate) == ("AR", "AR", True)
    assert ack(again.ack).control_id == "ORD1"
    assert count(store, Quarantine.__table__) == 1  # type: ignore[attr-defined]


def test_text_not_in_the_configured_encoding_is_rejected(store: Store) -> None:
    message = siu("S12", "MSG1", "20300301090000").replace("Doe", "Müller").encode("cp1252")
    assert receiver(store, encoding="utf-8").handle(message, "10.0.0.1").code == "AR"
    assert receiver(store, encoding="cp1252").handle(message, "10.0.0.1").code == "AA"


def test_two_copies_racing_past_the_duplicate_check_apply_once(store: Store,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The copy that checks first but commits second loses on the control id's key."""
    handler = receiver(store)
    message = siu("S12", "MSG1", "20300301090000").encode()
    assert handler.handle(message, "10.0.0.1").code == "AA"  # the other copy, committed meanwhile
    answered = handler._answered
    checks: list[str | None] = []

    def stale_then_true(parsed: Any) -> str | None:
        checks.append(None if not checks else answered(parsed))
        return checks[-1]

    monkeypatch.setattr(handler, "_answered", stale_then_true)
    reply = handler.handle(message, "10.0.0.2")
    assert (reply.code, reply.duplicate) == ("AA", True)
    # saw nothing, hit the key, then read the first copy's answer
    assert [c and c.ack_code for c in checks] == [None, "AA"]
    assert count(store, Event.__table__) == 1  # type: ignore[attr-defined]


def test_a_too_long_text_is_shortened_and_stored(store: Store) -> None:
    """The mapping fits free text to its column, so PostgreSQL stores it too."""
    message = siu("S12", "MSG1", "20300301090000").replace("CHK^Checkup", "CHK^" + "Long " * 60).encode()
    assert receiver(store).handle(message, "10.0.0.1").code == "AA"
    assert count(store, Event.__table__) == 1  # type: ignore[attr-defined]


def test_a_value_the_database_refuses_is_quarantined_not_resent_forever(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A value the database refuses: AE and quarantine, so the sender moves on (a message
    that can never be stored must not block its queue). The refusal is the driver's."""
    original = Store.apply_push

    def refuse(self: Store, connector: str, run_id: str, mapped: Any, *args: Any, **kwargs: Any) -> Any:
        if mapped:
            raise DataError("INSERT …", {}, ValueError("value too long for type character varying(255)"))
        return original(self, connector, run_id, mapped, *args, **kwargs)

    monkeypatch.setattr(Store, "apply_push", refuse)
    message = siu("S12", "MSG1", "20300301090000").encode()
    reply = receiver(store).handle(message, "10.0.0.1")
    assert (reply.code, ack(reply.ack).control_id) == ("AE", "MSG1")
    assert "the store refused a value (ValueError)" in ack(reply.ack).text
    assert count(store, Quarantine.__table__) == 1  # type: ignore[attr-defined]
    assert count(store, Event.__table__) == 0  # type: ignore[attr-defined]
    assert receiver(store).handle(message, "10.0.0.1").code == "AE"  # resent: the same answer
