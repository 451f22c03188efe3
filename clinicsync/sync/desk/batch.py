"""Today's "All came in": *Came in* recorded on every started visit the Earlier today strip
showed, and its Undo, which takes all of them back.

Each visit is one desk action as if its own button had been pressed (sync/desk/actions.py),
bound to what the desk saw of it (its ``seen`` digest) and in a transaction of its own: a
visit that changed meanwhile (the source recorded it, another desk marked it a no-show) is
left out and stays on the strip with the visit as it is now, and the others are recorded.
The form names each visit as ``<appointment id>:<seen>``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.desk.actions import Refused, record_action, undo_action, undo_offer, visit_named
from clinicsync.sync.store.model import ROW_ID_MAX
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.store import Store

MAX_VISITS = 500  # one day's started visits of a large practice; a longer post is cut here


class BadVisit(ValueError):
    """A ``visit`` field that is not ``<appointment id>:<seen>`` (a hand-made post)."""


@dataclass
class Outcome:
    """What a batch did: the desk actions written (or undone), and how many visits it left."""

    done: list[int] = field(default_factory=list)
    left: int = 0


def parse(values: Iterable[object], name: str = "visit") -> list[tuple[int, str]]:
    """The form's ``name`` fields as (id, seen), at most MAX_VISITS; BadVisit names the bad one's
    position, never its value."""
    out = []
    for position, value in enumerate(values):
        if position >= MAX_VISITS:
            break
        number, _, seen = str(value).partition(":")
        if not number.isdigit() or not 1 <= int(number) <= ROW_ID_MAX or not seen:
            raise BadVisit(f"{name} #{position + 1}: expected '<id>:<seen>' as the page wrote it; "
                           "reload Today and press the button again")
        out.append((int(number), seen))
    return out


def all_came_in(settings: Settings, store: Store, visits: list[tuple[int, str]], user: str, role: str,
                now: datetime, allowed: Callable[[int], bool]) -> Outcome:
    """*Came in* on each visit the desk saw and may act on (``allowed``: the user's sites)."""
    outcome = Outcome()
    for appointment_id, seen in visits:
        if not allowed(appointment_id):
            outcome.left += 1
            continue
        try:
            row = record_action(settings, store, appointment_id, "arrived", user, role, now, seen=seen)
        except Refused:
            row = None
        if row is None:
            outcome.left += 1
        else:
            outcome.done.append(int(row["id"]))
    return outcome


def undo_offers(store: Store, action_ids: list[int], now: datetime) -> list[dict[str, object]]:
    """The batch's actions that can still be taken back (undo_offer of each), for one Undo."""
    return [offer for offer in (undo_offer(store, i, now) for i in action_ids[:MAX_VISITS]) if offer is not None]


def named(store: Store, appointment_ids: Iterable[int], allowed: Callable[[int], bool]) -> list[dict[str, Any]]:
    """Who and when each visit of a batch was, in start order, for "Recorded: came in, for 3
    visits" and its "Undone:" (actions.visit_named, the single action's words): the desk reads
    which visits, not only how many. Only the visits the user may see (``allowed``: their sites)."""
    out = []
    for appointment_id in dict.fromkeys(list(appointment_ids)[:MAX_VISITS]):
        visit = visit_named(store, appointment_id) if allowed(appointment_id) else None
        if visit is not None:
            out.append({**visit, "appointment_id": appointment_id})
    return sorted(out, key=lambda v: (v["start_utc"], v["appointment_id"]))


def recorded(store: Store, action_ids: list[int], now: datetime, allowed: Callable[[int], bool]) -> dict[str, Any]:
    """The line after "All came in": the visits it recorded, named, and the Undo of those of
    them that can still be taken back (each the latest action on its visit, within the window)."""
    with store.engine.connect() as connection:  # came-in actions only: a hand-made link names no other
        appointments = {int(r.id): int(r.appointment_id) for r in connection.execute(
            select(DESK_ACTIONS.c.id, DESK_ACTIONS.c.appointment_id).where(
                DESK_ACTIONS.c.id.in_(action_ids[:MAX_VISITS]), DESK_ACTIONS.c.action == "arrived"))}
    mine = [i for i in action_ids[:MAX_VISITS] if i in appointments and allowed(appointments[i])]
    visits = named(store, [appointments[i] or 0 for i in mine], allowed)
    return {"recorded": len(visits), "visits": visits, "undo": undo_offers(store, mine, now)}


def undo_all(settings: Settings, store: Store, actions: list[tuple[int, str]], user: str, now: datetime,
             allowed: Callable[[int], bool]) -> Outcome:
    """Take back each desk action of a batch (``actions``: (action id, seen of its visit)); one
    that can no longer be undone (a later action, past the window, the visit changed) is left."""
    outcome = Outcome()
    for action_id, seen in actions:
        if not allowed(action_id):
            outcome.left += 1
            continue
        try:
            appointment_id = undo_action(settings, store, action_id, user, now, seen)
        except Refused:
            appointment_id = None
        if appointment_id is None:
            outcome.left += 1
        else:
            outcome.done.append(action_id)
    return outcome
