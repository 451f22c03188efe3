"""A desk action's Undo and its cancel find the action's own write-back by its link
(writeback.desk_action_id), not by the moment it was written: two desk steps on one visit in the
same second, or a patient's SMS answer in the same minute as the desk's, leave the patient's
write-back alone and never bring back the write-back of a step that was undone. A row written
before the link existed keeps the time rule. Through the real SMS reply, desk actions and
write-back stage (a CSV responses file), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from clinicsync.common.types import utcnow
from clinicsync.sync.cli.appointments import appointment_story
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.desk.actions import record_action, seen_of, source_hint, undo_action
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.responses.history import visit_history
from clinicsync.sync.responses.link_page import answer
from clinicsync.sync.responses.record import handle_reply
from clinicsync.sync.responses.writeback import process_writebacks
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.responses import WRITEBACKS
from clinicsync.sync.store.store import Store
from tests.responses.test_links import SERVER, booked
from tests.sync.reminders.conftest import SettingsMaker, appointment, put

A = Appointment.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 6, 1, 16, tzinfo=UTC)
START = datetime(2026, 6, 12, 14, tzinfo=UTC)
BASE = (
    "quiet_hours: null\nagenda: {enabled: false}\noffsets: [1d]\nchannels: [sms, email]\n"
    "routes: {sms: texts, email: mails}\nconfirmation: false"
)


def _settings(make: SettingsMaker, tmp_path: Path) -> Settings:
    """The visit's source (c1) takes answers back through a CSV responses file."""
    (tmp_path / "drop").mkdir(exist_ok=True)
    source = (
        f"connectors:\n  - name: c1\n    kind: csv\n    mapping: csv_default\n"
        f"    drop_dir: {tmp_path / 'drop'}\n    responses_file: {tmp_path / 'out' / 'responses.csv'}\n"
    )
    return make(BASE, extra_notifiers=source)


def _visit(settings: Settings, store: Store) -> int:
    put(store, appointment("A1", START))
    plan(settings, store, NOW)
    with store.engine.connect() as connection:
        return int(connection.execute(select(A.c.id)).scalar_one())


def _act(settings: Settings, store: Store, target: int, action: str, at: datetime) -> int:
    done = record_action(
        settings,
        store,
        target,
        action,
        "desk1",
        "front_desk",
        at,
        seen=seen_of(store, [target])[target].digest,
        reason="patient_asked" if action == "cancel" else None,
    )
    assert done is not None
    return int(done["id"])


def _undo(settings: Settings, store: Store, target: int, action: int, at: datetime) -> None:
    assert undo_action(settings, store, action, "desk1", at, seen_of(store, [target])[target].digest) == target


def _outbox(store: Store) -> list[tuple[str, str | None, str]]:
    """The write-backs, oldest first: (participant_status, appointment_status, status)."""
    with store.engine.connect() as connection:
        return [
            (r.participant_status, r.appointment_status, r.status)
            for r in connection.execute(select(WRITEBACKS).order_by(WRITEBACKS.c.id))
        ]


def _links(store: Store) -> list[int | None]:
    """The desk action each write-back carries, oldest first."""
    with store.engine.connect() as connection:
        return list(connection.execute(select(WRITEBACKS.c.desk_action_id).order_by(WRITEBACKS.c.id)).scalars())


def _written(tmp_path: Path) -> list[list[str]]:
    """What the source was told so far: (participant_status, appointment_status) per line."""
    path = tmp_path / "out" / "responses.csv"
    return [line.split(",")[2:4] for line in path.read_text().splitlines()[1:]] if path.exists() else []


def _answer(store: Store) -> str | None:
    with store.engine.connect() as connection:
        return connection.execute(select(A.c.participation)).scalar_one()


def test_two_desk_steps_in_one_second_each_undo_takes_back_its_own_write_back(
    store: Store, reminder_settings: SettingsMaker, tmp_path: Path
) -> None:
    """Confirmed by phone and cancelled in the same second, both undone in that second: each
    Undo withdraws its own row; nothing is left for the source, which was never told anything
    (the time rule took the cancel's withdrawn row for the confirmation's, judged it written and
    queued a "needs-action" the source never needed, leaving the confirmation's own pending)."""
    settings = _settings(reminder_settings, tmp_path)
    target = _visit(settings, store)
    confirmed = _act(settings, store, target, "confirmed_by_phone", NOW)
    cancelled = _act(settings, store, target, "cancel", NOW)
    assert _outbox(store) == [("accepted", None, "pending"), ("declined", "cancelled", "pending")]
    _undo(settings, store, target, cancelled, NOW)
    _undo(settings, store, target, confirmed, NOW)
    assert _outbox(store) == [("accepted", None, "superseded"), ("declined", "cancelled", "superseded")]
    assert _links(store) == [confirmed, cancelled]
    assert _answer(store) is None
    assert process_writebacks(settings, store, NOW + timedelta(seconds=1))["done"] == 0
    assert _written(tmp_path) == []


def test_an_sms_decline_in_the_same_minute_is_what_the_undo_gives_back_never_an_undone_cancel(
    store: Store, reminder_settings: SettingsMaker, tmp_path: Path
) -> None:
    """The patient declined by SMS; half a minute later one desk cancelled and undid it and
    another confirmed by phone, all in one second; the write-back stage wrote the confirmation
    (setting the decline aside). Undoing the confirmation gives the source the patient's decline
    again, as the patient gave it (the time rule took the undone cancel's row for the answer the
    confirmation pushed aside and told the source the visit was cancelled)."""
    settings = _settings(reminder_settings, tmp_path)
    target = _visit(settings, store)
    assert (
        handle_reply(settings, store, "sms", "+12125550101", "NO", "SM1", NOW - timedelta(seconds=30)).outcome
        == "applied"
    )
    cancelled = _act(settings, store, target, "cancel", NOW)
    _undo(settings, store, target, cancelled, NOW)
    confirmed = _act(settings, store, target, "confirmed_by_phone", NOW)
    assert process_writebacks(settings, store, NOW)["done"] == 1
    _undo(settings, store, target, confirmed, NOW + timedelta(seconds=5))
    assert _outbox(store) == [
        ("declined", None, "pending"),
        ("declined", "cancelled", "superseded"),
        ("accepted", None, "done"),
    ]
    assert _links(store) == [None, cancelled, confirmed]
    assert _answer(store) == "declined"
    assert process_writebacks(settings, store, NOW + timedelta(seconds=10))["done"] == 1
    assert _written(tmp_path) == [["accepted", ""], ["declined", ""]]


def test_an_sms_answer_before_the_desk_step_in_the_same_second_is_pending_again_after_its_undo(
    store: Store, reminder_settings: SettingsMaker, tmp_path: Path
) -> None:
    """The patient declined by SMS and the desk cancelled in the same second; the write-back
    stage ran between (the decline set aside for the cancel's row), then the desk undid its cancel:
    the decline is pending again, the cancel's withdrawn, and the source is told the decline once."""
    settings = _settings(reminder_settings, tmp_path)
    target = _visit(settings, store)
    assert handle_reply(settings, store, "sms", "+12125550101", "NO", "SM1", NOW).outcome == "applied"
    cancelled = _act(settings, store, target, "cancel", NOW)
    (tmp_path / "out").write_text("")  # a file where the folder goes: the append fails, retried later
    assert process_writebacks(settings, store, NOW)["retrying"] == 1
    _undo(settings, store, target, cancelled, NOW)
    assert _outbox(store) == [("declined", None, "pending"), ("declined", "cancelled", "superseded")]
    assert _links(store) == [None, cancelled]
    (tmp_path / "out").unlink()
    assert process_writebacks(settings, store, NOW + timedelta(hours=1))["done"] == 1
    assert _written(tmp_path) == [["declined", ""]]


def test_cancel_undo_cancel_in_one_second_writes_back_once_per_standing_cancel(
    store: Store, reminder_settings: SettingsMaker, tmp_path: Path
) -> None:
    """Two desks: cancel, undo, cancel, undo, all in one second: nothing stands, so the source is
    told nothing (the time rule took the first cancel's withdrawn row for a patient's answer the
    second cancel had pushed aside and queued it again: the source read "cancelled" for a visit
    that is on). Cancelled a third time: one line, the standing cancel's."""
    settings = _settings(reminder_settings, tmp_path)
    target = _visit(settings, store)
    first = _act(settings, store, target, "cancel", NOW)
    _undo(settings, store, target, first, NOW)
    second = _act(settings, store, target, "cancel", NOW)
    _undo(settings, store, target, second, NOW)
    assert [s for _, _, s in _outbox(store)] == ["superseded", "superseded"]
    assert process_writebacks(settings, store, NOW)["done"] == 0
    assert _written(tmp_path) == []
    third = _act(settings, store, target, "cancel", NOW)
    assert _outbox(store)[-1] == ("declined", "cancelled", "pending")
    assert _links(store) == [first, second, third]
    assert process_writebacks(settings, store, NOW + timedelta(seconds=1))["done"] == 1
    assert _written(tmp_path) == [["declined", "cancelled"]]


def test_a_write_back_from_before_the_link_is_found_by_its_moment(
    store: Store, reminder_settings: SettingsMaker, tmp_path: Path
) -> None:
    """A cancel recorded before the link existed (its row's desk_action_id NULL): the Undo falls
    back to the row written at the action's moment and withdraws it."""
    settings = _settings(reminder_settings, tmp_path)
    target = _visit(settings, store)
    cancelled = _act(settings, store, target, "cancel", NOW)
    with store.engine.begin() as connection:
        connection.execute(update(WRITEBACKS).values(desk_action_id=None))
    _undo(settings, store, target, cancelled, NOW + timedelta(minutes=1))
    assert _outbox(store) == [("declined", "cancelled", "superseded")]
    assert process_writebacks(settings, store, NOW + timedelta(minutes=2))["done"] == 0


def _desk_rows(settings: Settings, store: Store, target: int) -> list[tuple[str, str | None, str]]:
    """The desk's rows of the visit's History: (what, written, what the page says of the source)."""
    with store.engine.connect() as connection:
        entries = [e for e in visit_history(connection, target) if e.actor == "front desk"]
    return [
        (e.what, e.written, source_hint(settings, "c1", e.action, e.source or "none", e.written, e.undone))
        for e in entries
    ]


def test_history_says_what_became_of_each_desk_steps_write_back_by_its_link(
    store: Store, reminder_settings: SettingsMaker, tmp_path: Path
) -> None:
    """A patient's SMS decline and the desk's cancel in the same minute: History lists the
    decline as the patient's by SMS and the cancel as the desk's, and says of the cancel's
    write-back what its own row says (to be written, written, withdrawn by the undo), never the
    patient's row's state; `appointments show` says the same."""
    settings = _settings(reminder_settings, tmp_path)
    target = _visit(settings, store)
    assert (
        handle_reply(settings, store, "sms", "+12125550101", "NO", "SM1", NOW - timedelta(seconds=30)).outcome
        == "applied"
    )
    first = _act(settings, store, target, "cancel", NOW)
    assert _desk_rows(settings, store, target) == [
        ("cancelled", "pending", "to be written back to c1 (csv) at the next run")
    ]
    assert process_writebacks(settings, store, NOW)["done"] == 1  # the cancel's; the decline superseded by it
    assert _desk_rows(settings, store, target) == [("cancelled", "done", "written back to c1 (csv)")]
    _undo(settings, store, target, first, NOW + timedelta(seconds=10))
    second = _act(settings, store, target, "cancel", NOW + timedelta(seconds=20))
    _undo(settings, store, target, second, NOW + timedelta(seconds=30))
    assert _desk_rows(settings, store, target) == [
        ("cancelled", "done", "written back to c1 (csv)"),
        ("cancelled", "superseded", "withdrawn by its undo before it was written back to c1 (csv)"),
    ]
    with store.engine.connect() as connection:
        patients = [(e.actor, e.what, e.how) for e in visit_history(connection, target) if e.actor != "front desk"]
    assert patients == [("patient", "declined", "by SMS reply")]
    story = appointment_story(store, "c1", "A1")
    assert [(d["action"], d["written"], d["undone"]) for d in story["desk_actions"]] == [
        ("cancel", "done", True),
        ("cancel", "superseded", True),
    ]


def test_an_answer_through_the_patients_link_after_the_desk_step_survives_its_undo(
    store: Store, reminder_settings: SettingsMaker, tmp_path: Path
) -> None:
    """The desk confirmed by phone; seconds later the patient declined through the link of their
    SMS; then the desk undid its confirmation. The patient's decline is still written back and
    still the visit's answer (the time rule withdrew every row queued after the desk's, the
    patient's too, and put the answer back to none)."""
    (tmp_path / "drop").mkdir(exist_ok=True)
    source = (
        f"connectors:\n  - name: c1\n    kind: csv\n    mapping: csv_default\n"
        f"    drop_dir: {tmp_path / 'drop'}\n    responses_file: {tmp_path / 'out' / 'responses.csv'}\n"
    )
    settings = reminder_settings(BASE.replace("\nconfirmation: false", ""), extra_notifiers=source + SERVER)
    sms = booked(settings, store, tmp_path, channel="sms", language="en")
    [token] = re.findall(r"https://clinic\.example\.org/a/([\w.\-]+)", sms)  # the SMS's one link
    with store.engine.connect() as connection:
        target = int(connection.execute(select(A.c.id)).scalar_one())
    confirmed = _act(settings, store, target, "confirmed_by_phone", utcnow())
    assert answer(settings, store, token, {"choice": "decline"}, short=True).status_code == 200
    assert _answer(store) == "declined"
    _undo(settings, store, target, confirmed, utcnow())
    assert _outbox(store) == [("accepted", None, "superseded"), ("declined", None, "pending")]
    assert _links(store) == [confirmed, None]
    assert _answer(store) == "declined"
    assert process_writebacks(settings, store, utcnow())["done"] == 1
    assert _written(tmp_path) == [["declined", ""]]
