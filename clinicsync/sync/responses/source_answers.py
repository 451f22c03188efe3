"""Answers the source already has: a mapping's ``answer:`` (a desk confirmation, a
"confirmed" column) becomes the appointment's answer through the same path as a patient's
reply (sync/responses/record.py), with the connector as its sender and channel ``source``.

A pipeline stage after the connectors: each appointment version whose source answer is not
yet recorded gets one Response row (provider id ``source:<id>:v<version>:<answer>``, unique,
so a second worker or a rerun records nothing twice). A later patient reply that differs
wins until the source changes the appointment again. The source is never written back to,
and the doctor is not told: the clinic's system already shows the answer.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from clinicsync.common.types import utcnow
from clinicsync.sync.checks.stage_probes import pending_source_answers, source_answer_key
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.responses.keywords import Action
from clinicsync.sync.runs.progress import Ticker, no_ticks
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import RESPONSES

# The answers the stage's probe looks for too (sync/checks/stage_probes.py SOURCE_ANSWERS, one test pins them alike).
ACTIONS: dict[str, Action] = {"accepted": "confirm", "declined": "decline"}
log = structlog.get_logger("clinicsync.responses")


def record_source_answers(settings: Settings, store: Store) -> int:
    """Record every source answer not recorded yet for its appointment's version."""
    if not settings.responses.enabled:
        return 0
    now = utcnow()
    recorded = 0
    with store.engine.connect() as connection:  # the same question the stage's probe asks (sync/checks/stage_probes.py)
        pending = pending_source_answers(connection, ACTIONS)
    if not pending:
        return 0
    # The reply path (the doctor told, reminders stopped: dispatch, templates) is imported only
    # when there is an answer to record: an idle cron run has none.
    from clinicsync.sync.reminders.answers import apply_answer

    for appointment in pending:
        key = source_answer_key(appointment)
        try:
            with writer(store.engine) as connection:
                connection.execute(insert(RESPONSES).values(
                    channel="source", sender=appointment.connector, body=None, language=None,
                    action=ACTIONS[appointment.source_answer], outcome="applied", appointment_id=appointment.id,
                    reminder_id=None, provider_id=key, received_at=now))
                apply_answer(connection, settings, appointment, ACTIONS[appointment.source_answer], now,
                             from_source=True)
        except IntegrityError:  # another worker recorded it first
            continue
        recorded += 1
    if recorded:
        log.info("responses.source_answers", recorded=recorded)
    return recorded


def source_answers_stage(settings: Settings, store: Store, run_id: str, progress: Ticker = no_ticks) -> dict[str, Any]:
    """The pipeline stage: runs after the connectors, before reminders are planned."""
    return {"recorded": record_source_answers(settings, store)}
