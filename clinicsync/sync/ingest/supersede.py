"""A visit moved by a successor row is one moved visit, not a cancellation and a new booking.

Some products reschedule by keeping the old row (its status a word such as "rescheduled") and
booking a new row at the new time that names the old one (a ``replaces`` field in the mapping:
Bahmni's ``related_appointment_id``, a ``rescheduled_from`` column). Stored as two visits, the
patient would get a "cancelled" for the old row and a confirmation for the new one, and a
mapping of the word to ``booked`` would keep the old time live and reminded.

So, before a batch is stored, each row is read under the id of the first row of its chain: a
row that names the row it replaces is stored as that visit (its new time is a move, announced
once as one), and a row that a later row replaces is old news and is left out. The chain's edges
are kept in the store's alias table (as the booking webhooks keep theirs, push_hooks.py: "this
id is a later booking of that one"), written in the batch's own transaction, so a later change
of the new row still reaches the same visit and a re-read of the old row never undoes the move.
Only a mapping with a ``replaces`` field pays for this: one select a batch."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence

from sqlalchemy import Connection, bindparam, or_, select

from clinicsync.common.types import utcnow
from clinicsync.sync.store.db import insert_ignoring_duplicates
from clinicsync.sync.store.store import Mapped, Store
from clinicsync.sync.store.tables import BOOKING_ALIASES as ALIASES

Within = Callable[[Connection], Collection[str] | None]
_LONGEST_CHAIN = 1_000  # a guard against a cycle of edges, far beyond any real reschedule chain
_CHUNK = 400  # ids a select names (twice): within SQLite's oldest limit of 999 bound values


@dataclasses.dataclass(frozen=True)
class Superseded:
    """A batch read by chains: the records to store, the edges to record, and how many old rows were left out."""

    mapped: list[Mapped]
    edges: list[tuple[str, str]]  # (later row's id, the id of the row it replaces), new to the store
    left_out: int


def supersede(store: Store, connector: str, mapped: Sequence[Mapped]) -> Superseded:
    """``mapped`` with each record under its chain's first id and replaced rows left out."""
    ids = {m.appointment.external_id for m in mapped} | {m.appointment.replaces for m in mapped
                                                         if m.appointment.replaces}
    known = _stored_edges(store, connector, ids)
    fresh = [(m.appointment.external_id, m.appointment.replaces) for m in mapped
             if m.appointment.replaces and known.get(m.appointment.external_id) != m.appointment.replaces]
    edges = {**known, **dict(fresh)}
    replaced = set(edges.values())
    out: list[Mapped] = []
    left_out = 0
    for record in mapped:
        own = record.appointment.external_id
        if own in replaced and not record.delete:
            left_out += 1  # a later row of its chain stands for the visit now
            continue
        first = _first(own, edges)
        if first != own:
            record = dataclasses.replace(record, appointment=dataclasses.replace(record.appointment,
                                                                                external_id=first))
        out.append(record)
    return Superseded(out, list(dict(fresh).items()), left_out)


def listed_visits(store: Store, connector: str, ids: set[str]) -> set[str]:
    """The visits a delete sweep's listing of row ids holds: each row under its chain's first id,
    a replaced row for none (the visit is where its newest row is: a visit whose old row left the
    window, or whose first row was never in it, is still listed by its newest row)."""
    edges = _stored_edges(store, connector, ids)
    replaced = set(edges.values())
    return {_first(external_id, edges) for external_id in ids if external_id not in replaced}


def recording(edges: Sequence[tuple[str, str]], connector: str, within: Within | None) -> Within | None:
    """``within`` (the batch's own, if any) followed by the writing of ``edges``, in the batch's transaction."""
    if not edges:
        return within

    def record(connection: Connection) -> Collection[str] | None:
        left = within(connection) if within is not None else None
        now = utcnow()
        connection.execute(insert_ignoring_duplicates(connection, ALIASES), [
            {"connector": connector, "alias": later, "external_id": earlier, "created_at": now}
            for later, earlier in edges])
        return left

    return record


def _first(external_id: str, edges: dict[str, str]) -> str:
    """The first id of ``external_id``'s chain, following "later -> earlier" edges."""
    current = external_id
    for _ in range(_LONGEST_CHAIN):
        earlier = edges.get(current)
        if earlier is None or earlier == external_id:
            return current
        current = earlier
    return current


def _stored_edges(store: Store, connector: str, ids: set[str]) -> dict[str, str]:
    """The stored edges of the chains ``ids`` belong to: later id -> earlier id."""
    edges: dict[str, str] = {}
    frontier = set(ids)
    seen: set[str] = set()
    query = select(ALIASES.c.alias, ALIASES.c.external_id).where(
        ALIASES.c.connector == bindparam("connector"),
        or_(ALIASES.c.alias.in_(bindparam("ids", expanding=True)),
            ALIASES.c.external_id.in_(bindparam("ids", expanding=True))))
    with store.engine.connect() as connection:
        for _ in range(_LONGEST_CHAIN):
            frontier -= seen
            if not frontier:
                break
            seen |= frontier
            asked = sorted(frontier)
            rows = [row for at in range(0, len(asked), _CHUNK)  # a sweep's listing: thousands of ids
                    for row in connection.execute(query, {"connector": connector, "ids": asked[at:at + _CHUNK]})]
            frontier = set()
            for later, earlier in rows:
                edges[later] = earlier
                frontier.update((later, earlier))
    return edges
