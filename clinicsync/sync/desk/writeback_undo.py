"""What a desk action's Undo does to the write-back outbox: the action's own row, found by its
link (``writeback.desk_action_id``), is withdrawn while still pending, and the source is told
what stood before the action once the row went.

Found by the link and not by time: the row "written at the action's moment" was the one the
time rule took, and two desk steps on a visit in one second, or a patient's answer in the same
minute, made it the wrong row (an Undo withdrew the patient's decline, or gave a withdrawn
cancel back to the source as if it were the patient's). An undo's own restoring row carries the
undone action's id too, so every row the desk wrote is known as the desk's; a row without a link
is a patient's or a source's answer (or one written before the link existed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.model.responses import WRITEBACKS

W, DK = WRITEBACKS, DESK_ACTIONS
NOT_WRITTEN = ("pending", "superseded")  # a row in either state never reached the source


def own_writeback(connection: Connection, settings: Settings, appointment: Any, target: Any) -> Any | None:
    """The write-back the desk action ``target`` queued: the first row linked to it. A row
    written before the link existed (migration 0046) has none; then, and only while write-back
    is on (when it is, every desk answer since the link queues a linked row, so a missing link
    means an older action), the old rule stands: the visit's newest unlinked row written at or
    before the action's moment, if written at that very moment (``apply_answer`` dates the row
    with the action's own time)."""
    linked = connection.execute(
        select(W.c.id, W.c.status, W.c.created_at).where(W.c.desk_action_id == target.id).order_by(W.c.id).limit(1)
    ).first()
    if linked is not None or not settings.responses.writeback:
        return linked
    older = connection.execute(
        select(W.c.id, W.c.status, W.c.created_at)
        .where(W.c.appointment_id == appointment.id, W.c.desk_action_id.is_(None), W.c.created_at <= target.at)
        .order_by(W.c.id.desc())
        .limit(1)
    ).first()
    return older if older is not None and older.created_at >= target.at else None


def _undone_actions_rows(connection: Connection, appointment_id: int) -> set[int]:
    """The own rows (first linked row) of the visit's desk actions that were undone: withdrawn by
    their Undo, never anyone's answer to give back."""
    undone = select(DK.c.id).where(DK.c.appointment_id == appointment_id, DK.c.undone_at.is_not(None))
    return {
        int(i)
        for i in connection.execute(
            select(func.min(W.c.id)).where(W.c.desk_action_id.in_(undone)).group_by(W.c.desk_action_id)
        ).scalars()
    }


def restore_writeback(connection: Connection, settings: Settings, appointment: Any, target: Any, now: datetime) -> None:
    """The outbox as it would be without the action ``target`` (already marked undone).

    Its own row is withdrawn while pending, and so is any row the desk queued after it (a later
    step's, undone before this one, or that undo's restoring row); a patient's answer queued
    after it (through an answer link) stands, and then nothing more is done: the source's last
    word is the patient's. Otherwise a patient's row that the write-back stage superseded by the
    action's is pending again (a decline by SMS is still written back), never the row of a desk
    step that was undone; and once the action's own row went, with nothing to give back, the
    source is told the answer and status as they were: the patient's decline again (its status
    cancelled when ``decline_cancels`` says a decline cancels), else booked with the answer
    before. The restoring row carries the action's id (it is the desk's, not an answer)."""
    own = own_writeback(connection, settings, appointment, target)
    if own is None:
        return  # nothing of the action's in the outbox
    went = own.status not in NOT_WRITTEN and target.source == "queued"  # a source that takes no answers: none went
    after = connection.execute(
        select(W.c.id, W.c.desk_action_id).where(W.c.appointment_id == appointment.id, W.c.id > own.id)
    ).all()
    desks = [own.id] + [r.id for r in after if r.desk_action_id is not None]
    connection.execute(
        update(W).where(W.c.id.in_(desks), W.c.status == "pending").values(status="superseded", done_at=now)
    )
    if any(r.desk_action_id is None for r in after):
        return  # the patient answered after the action: their answer is the source's last word
    status = None
    if target.action == "cancel":
        status = "cancelled" if target.prior_answer == "declined" and settings.responses.decline_cancels else "booked"
    skip = _undone_actions_rows(connection, appointment.id)
    lost = next(
        (
            r
            for r in connection.execute(
                select(W.c.id, W.c.appointment_status)
                .where(
                    W.c.appointment_id == appointment.id,
                    W.c.id < own.id,
                    W.c.status == "superseded",
                    W.c.done_at >= target.at,
                )
                .order_by(W.c.id.desc())
            )
            if r.id not in skip
        ),
        None,
    )
    if lost is not None:  # the patient's answer the action's write-back pushed aside: pending again
        connection.execute(
            update(W)
            .where(W.c.id == lost.id)
            .values(
                status="pending",
                done_at=None,
                next_at=now,
                last_error=None,
                appointment_status=(lost.appointment_status or status) if went else lost.appointment_status,
            )
        )
    elif went:
        connection.execute(
            insert(W).values(
                appointment_id=appointment.id,
                connector=appointment.connector,
                external_id=appointment.external_id,
                patient_ref=appointment.patient_ref,
                participant_status=target.prior_answer or "needs-action",
                appointment_status=status,
                status="pending",
                attempts=0,
                next_at=now,
                created_at=now,
                desk_action_id=target.id,
            )
        )
