"""What only a running MLLP listener knows, kept in the store so that any process tells it:
`clinicsync status`, the status page and the main /metrics, not only
`hl7 listen --metrics-port` of the listener's own process.

- handshakes failing: since when every TLS handshake has failed (three or more in a row with
  none passing between: an expired or untrusted certificate, senders whose certificates the
  client CA does not sign); the listener's log has OpenSSL's reason for each;
- its TLS files not loading in the listener (`reload_failing`): the files changed and do not
  load as the listener's user reads them, so it serves the certificate it loaded before.
  Usually `status` sees the same in the files themselves (stall ``mllp_certificate``); this
  tells also when only the listener cannot read them (a permission).

Rows in ``housekeeping`` (task → datetime; no migration), per listening connector:
``mllp:<connector>:seen`` (refreshed each minute by the listener: a row older than LIVE is a
listener gone, and its other rows are not believed), ``…:handshakes_failing`` and
``…:reload_failing`` (since when; absent when not). A clean stop deletes them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, select

from clinicsync.common.types import utcnow
from clinicsync.sync.store.db import upsert_statement
from clinicsync.sync.store.tables import HOUSEKEEPING

LIVE = timedelta(minutes=5)  # a listener notes itself every minute
_PREFIX = "mllp:"
_NAME_ROOM = 64 - len(_PREFIX) - len(":handshakes_failing")  # housekeeping.task's length


@dataclass(frozen=True)
class ListenerState:
    handshakes_failing_since: datetime | None
    reload_failing_since: datetime | None


def _head(connector: str) -> str:
    name = connector if len(connector) <= _NAME_ROOM else (
        connector[:_NAME_ROOM - 9] + "~" + hashlib.sha256(connector.encode()).hexdigest()[:8])
    return f"{_PREFIX}{name}:"


def note_listener(engine: Engine, connector: str, state: ListenerState, now: datetime | None = None) -> None:
    """The running listener's state now (the listener's service calls it each minute)."""
    now = now or utcnow()
    head = _head(connector)
    rows = [{"task": head + "seen", "done_for": now}]
    gone = []
    for what, since in (("handshakes_failing", state.handshakes_failing_since),
                        ("reload_failing", state.reload_failing_since)):
        if since is None:
            gone.append(head + what)
        else:
            rows.append({"task": head + what, "done_for": since})
    with engine.begin() as connection:
        connection.execute(delete(HOUSEKEEPING).where(HOUSEKEEPING.c.task.in_(gone)))
        connection.execute(upsert_statement(connection, HOUSEKEEPING, ("task",), ("done_for",)), rows)


def forget_listener(engine: Engine, connector: str) -> None:
    """A listener stopped cleanly: nothing of it stands."""
    with engine.begin() as connection:
        connection.execute(delete(HOUSEKEEPING).where(HOUSEKEEPING.c.task.startswith(_head(connector))))


def listener_states(connection: Connection, connectors: list[str], now: datetime) -> dict[str, ListenerState]:
    """Per connector whose listener noted itself within LIVE: its state."""
    heads = {_head(name): name for name in connectors}
    if not heads:
        return {}
    rows = dict(connection.execute(select(HOUSEKEEPING.c.task, HOUSEKEEPING.c.done_for).where(
        HOUSEKEEPING.c.task.in_([head + what for head in heads
                                 for what in ("seen", "handshakes_failing", "reload_failing")]))).all())
    return {name: ListenerState(rows.get(head + "handshakes_failing"), rows.get(head + "reload_failing"))
            for head, name in heads.items()
            if (seen := rows.get(head + "seen")) is not None and now - seen <= LIVE}
