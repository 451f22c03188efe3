"""The front desk's actions made safe (issue 58), over HTTP on SQLite and PostgreSQL: every
action bound to the visit as the page showed it (a visit the source moved meanwhile, two desks
at once), only the actions that fit the visit's moment (no-show from the start, on the
"Earlier today" strip), cancel with a reason and an undo that restores what it changed, the
appointment page keeping every answer as it came, "left a message" coming back, and the ids
in forms checked (the waitlist form's hidden appointment, the viewer's masked source ids)."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import insert, select, text, update

from clinicsync.sync.calendar.desired import load_truth
from clinicsync.sync.desk.actions import Refused, record_action, seen_of
from clinicsync.sync.runs.access_log import ACCESS_LOG
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.responses import RESPONSES, WRITEBACKS
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui import queries
from tests.ui.seed import NOW
from tests.ui.test_desk import DESK, MANAGER, csrf_of, row_ids, seen_in

pytestmark = pytest.mark.anyio
A = Appointment.__table__  # type: ignore[attr-defined]
Desk = tuple[httpx.AsyncClient, dict[str, int]]


def _clock(client: httpx.AsyncClient, at: datetime) -> None:
    client._transport.app.state.ui_clock = lambda: at  # type: ignore[attr-defined]


def _actions(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(DESK_ACTIONS).order_by(DESK_ACTIONS.c.id)))


async def test_an_action_on_a_visit_the_source_moved_is_refused_and_shows_the_new_time(
        desk: Desk, store: Store) -> None:
    client, ids = desk
    page = (await client.get("/ui/", headers=DESK)).text
    seen = seen_in(page, ids["A8"])
    with store.engine.begin() as connection:  # the source moves the visit two days later after the page was drawn
        connection.execute(update(A).where(A.c.id == ids["A8"]).values(
            start_utc=datetime(2026, 11, 21, 16, tzinfo=UTC), end_utc=datetime(2026, 11, 21, 16, 30, tzinfo=UTC),
            version=2))
    refused = await client.post(f"/ui/appointments/{ids['A8']}/actions", headers=DESK, data={
        "csrf": csrf_of(page), "action": "cancel", "reason": "patient_asked", "seen": seen, "back": "/ui/"})
    assert refused.status_code == 409 and "changed since your page was drawn" in refused.text
    assert '<time datetime="2026-11-21T16:00:00+00:00">' in refused.text.split('id="now-when"')[1]
    assert _actions(store) == []
    with store.engine.connect() as connection:
        assert connection.execute(select(WRITEBACKS)).all() == []  # nothing written back to the source
    missing = await client.post(f"/ui/appointments/{ids['A8']}/actions", headers=DESK, data={
        "csrf": csrf_of(page), "action": "confirmed_by_phone"})  # a form without the version it was drawn from
    assert missing.status_code == 409 and _actions(store) == []


async def test_an_action_that_no_longer_fits_the_visit_is_refused(desk: Desk, store: Store) -> None:
    client, ids = desk
    target = ids["A8"]  # tomorrow 16:00 UTC
    _clock(client, NOW + timedelta(days=7))  # six days after the visit
    page = (await client.get(f"/ui/appointments/{target}", headers=DESK)).text
    assert 'class="actions"' not in page and 'id="no-actions"' in page
    token = client._transport.app.state.ui_sessions.basic_csrf("desk")  # type: ignore[attr-defined]
    for action, why in (("cancel", "The visit has started"), ("confirmed_by_phone", "The visit has started"),
                        ("no_show", "more than 3 days ago")):
        refused = await client.post(f"/ui/appointments/{target}/actions", headers=DESK, data={
            "csrf": token, "action": action, "reason": "other", "seen": seen_of(store, [target])[target].digest})
        assert refused.status_code == 409 and why in refused.text, action
    _clock(client, NOW)
    with store.engine.begin() as connection:  # the source cancelled it
        connection.execute(update(A).where(A.c.id == target).values(status="cancelled", version=2))
    confirm = await client.post(f"/ui/appointments/{target}/actions", headers=DESK, data={
        "csrf": token, "action": "confirmed_by_phone", "seen": seen_of(store, [target])[target].digest})
    assert confirm.status_code == 409 and "cancelled at the source" in confirm.text
    assert _actions(store) == []
    with store.engine.connect() as connection:
        assert connection.execute(select(WRITEBACKS)).all() == []


async def test_two_desks_acting_at_once_one_wins_and_the_other_is_told(desk: Desk, store: Store) -> None:
    """Both desks drew the page; their posts meet at the appointment's row lock (PostgreSQL: a
    third connection holds it until both wait) or SQLite's writer lock. Without the
    compare-and-set both would be recorded (the last winning), as the audit found."""
    client, ids = desk
    settings = client._transport.app.state.settings  # type: ignore[attr-defined]
    target = ids["A8"]
    seen = seen_of(store, [target])[target].digest
    outcomes: dict[str, Any] = {}

    def act(name: str, action: str) -> None:
        try:
            outcomes[name] = record_action(settings, store, target, action, name, "front_desk", NOW, seen=seen,
                                           reason="patient_asked")
        except Refused as refusal:
            outcomes[name] = refusal

    threads = [threading.Thread(target=act, args=("desk1", "confirmed_by_phone")),
               threading.Thread(target=act, args=("desk2", "cancel"))]
    if store.engine.dialect.name == "postgresql":
        warm = [store.engine.connect() for _ in range(3)]  # the desks' connections opened before the lock
        for connection in warm:
            connection.close()
        with store.engine.connect() as blocker:  # holds the row until both desks wait on it
            blocker.execute(select(A.c.id).where(A.c.id == target).with_for_update())
            for thread in threads:
                thread.start()
            deadline, waiting = time.monotonic() + 10, 0
            while time.monotonic() < deadline:
                waiting = blocker.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                               "AND datname = current_database()")).scalar()
                if waiting and waiting >= 2:
                    break
                time.sleep(0.02)
            assert waiting == 2, "both desks should wait on the appointment's row lock"
            blocker.rollback()
    else:  # SQLite: both start together; the writers queue on BEGIN IMMEDIATE
        for thread in threads:
            thread.start()
    for thread in threads:
        thread.join(10)
    refused = [o for o in outcomes.values() if isinstance(o, Refused)]
    won = [o for o in outcomes.values() if isinstance(o, dict)]
    assert len(won) == 1 and len(refused) == 1 and refused[0].changed, outcomes
    assert [(r.user, r.action) for r in _actions(store)] == [(won[0]["user"], won[0]["action"])]


async def test_no_show_only_once_started_on_the_earlier_today_strip_then_a_state_everywhere(
        desk: Desk, store: Store) -> None:
    client, ids = desk
    target = ids["A7"]  # today 21:00 UTC (3:00 PM in Chicago); NOW is 15:00 UTC
    page = (await client.get(f"/ui/appointments/{target}", headers=DESK)).text
    assert 'value="no_show"' not in page and 'value="confirmed_by_phone"' in page  # not offered before the start
    early = await client.post(f"/ui/appointments/{target}/actions", headers=DESK, data={
        "csrf": csrf_of(page), "action": "no_show", "seen": seen_in(page, target)})
    assert early.status_code == 409 and "once the visit has started" in early.text and _actions(store) == []
    _clock(client, NOW + timedelta(hours=6, minutes=20))  # 21:20 UTC: started 20 minutes ago
    today = (await client.get("/ui/", headers=DESK)).text
    strip = today.split('id="earlier-today"')[1].split("</details>")[0]
    assert f'data-id="{target}"' in strip and 'value="no_show"' in strip and 'value="arrived"' in strip
    assert 'value="cancel"' not in strip  # a started visit is not cancelled any more
    posted = await client.post(f"/ui/appointments/{target}/actions", headers=DESK, data={
        "csrf": csrf_of(today), "action": "no_show", "seen": seen_in(strip, target), "back": "/ui/"})
    assert posted.status_code == 303
    after = (await client.get(posted.headers["location"], headers=DESK)).text
    assert 'id="earlier-today"' not in after and "Recorded:" in after and 'id="undo"' in after
    listed = (await client.get("/ui/appointments", headers=MANAGER)).text
    assert listed.count('class="badge desk-state no-show"') == 1
    visit = (await client.get(f"/ui/appointments/{target}", headers=MANAGER)).text
    assert 'id="desk-state"' in visit and "no-show" in visit.split('id="desk-state"')[1][:120]
    week = {r.label: r for r in queries.rates_by_week(store, NOW - timedelta(days=14), NOW + timedelta(days=7),
                                                       ZoneInfo("America/New_York"))}
    assert week["2026-W47"].noshow == 1  # the desk's no-show on a CSV source, charted


async def test_cancel_asks_a_reason_and_its_undo_restores_answer_reminders_writeback_and_the_doctor(
        desk: Desk, store: Store) -> None:
    client, ids = desk
    target = ids["A5"]  # tomorrow, confirmed by the seed; reminder r6 pending (due tomorrow 13:00 UTC)
    with store.engine.begin() as connection:  # r6 is Jamal's own (the seed's rows name no recipient)
        connection.execute(update(REMINDERS).where(REMINDERS.c.key == "r6").values(recipient_ref="P1"))
    page = (await client.get(f"/ui/appointments/{target}", headers=DESK)).text
    form = {"csrf": csrf_of(page), "action": "cancel", "seen": seen_in(page, target),
            "back": f"/ui/appointments/{target}"}
    settings = client._transport.app.state.settings  # type: ignore[attr-defined]

    def calendar_event() -> Any:  # what the calendar stage would push for the visit at its next pass
        return next(d.content for d in load_truth(store.engine, settings.calendar, NOW) if d.appointment_id == target)

    booked_event = calendar_event()
    step = await client.post(f"/ui/appointments/{target}/actions", headers=DESK, data=form)
    assert step.status_code == 200 and 'id="cancel-step"' in step.text and 'name="reason"' in step.text
    assert _actions(store) == []  # nothing recorded before the reason is given
    done = await client.post(f"/ui/appointments/{target}/actions", headers=DESK, data={**form, "reason": "patient_ill"})
    assert done.status_code == 303
    with store.engine.connect() as connection:
        assert connection.execute(select(A.c.participation).where(A.c.id == target)).scalar() == "declined"
        r6 = connection.execute(select(REMINDERS.c.status).where(REMINDERS.c.key == "r6")).scalar()
        doctor = connection.execute(select(REMINDERS.c.id, REMINDERS.c.status).where(
            REMINDERS.c.appointment_id == target, REMINDERS.c.kind == "declined")).one()
    assert r6 == "cancelled" and doctor.status == "pending"
    assert calendar_event() != booked_event  # the event reads as cancelled by the patient
    with store.engine.begin() as connection:  # the doctor's "declined" email went out meanwhile
        connection.execute(update(REMINDERS).where(REMINDERS.c.id == doctor.id).values(status="sent"))
    after = (await client.get(done.headers["location"], headers=DESK)).text
    assert "reason: the patient is ill" in after
    undo_form = after.split('id="undo-form"')[1].split("</form>")[0]
    seen = re.search(r'name="seen" value="([^"]+)"', undo_form)
    action = re.search(r'action="(/ui/desk-actions/\d+/undo)"', after)
    assert seen and action
    undone = await client.post(action.group(1), headers=DESK, data={
        "csrf": csrf_of(after), "seen": seen.group(1), "back": f"/ui/appointments/{target}"})
    assert undone.status_code == 303
    with store.engine.connect() as connection:
        assert connection.execute(select(A.c.participation).where(A.c.id == target)).scalar() == "accepted"
        assert connection.execute(select(REMINDERS.c.status).where(REMINDERS.c.key == "r6")).scalar() == "pending"
        assert [w.status for w in connection.execute(select(WRITEBACKS))] == ["superseded"]
        told = connection.execute(select(REMINDERS.c.kind, REMINDERS.c.status).where(
            REMINDERS.c.appointment_id == target, REMINDERS.c.recipient == "practitioner",
            REMINDERS.c.kind == "confirmation")).all()
    assert [tuple(t) for t in told] == [("confirmation", "pending")]  # the doctor is told it is booked again
    assert calendar_event() == booked_event  # the calendar stage renders the visit as booked again
    history = (await client.get(undone.headers["location"], headers=DESK)).text
    assert "Undone:" in history and "undone by user desk" in history and "front desk: cancelled" in history
    assert "front desk declined" not in history  # the cancel is the desk's one event, not also an answer
    assert 'value="confirmed_by_phone"' in history  # actionable again
    again = await client.post(action.group(1), headers=DESK, data={
        "csrf": csrf_of(history), "seen": seen_in(history, target)})
    assert again.status_code == 409 and "already undone" in again.text


async def test_the_page_keeps_every_answer_and_request_with_its_channel(desk: Desk, store: Store) -> None:
    client, ids = desk
    asked = (await client.get(f"/ui/appointments/{ids['A5']}", headers=DESK)).text
    assert "asked for another time" in asked and "Mornings please" in asked and "by email link" in asked
    assert 'value="reschedule_handled"' in asked
    card = asked.split('id="timeline"')[0]  # the summary card quotes the request, not only History
    assert '<q class="note" id="asked-words">Mornings please</q>' in card
    viewer = (await client.get(f"/ui/appointments/{ids['A5']}", headers=MANAGER)).text
    assert "Mornings please" not in viewer and 'id="asked-words"' not in viewer
    posted = await client.post(f"/ui/appointments/{ids['A5']}/actions", headers=DESK, data={
        "csrf": csrf_of(asked), "action": "reschedule_handled", "seen": seen_in(asked, ids["A5"])})
    assert posted.status_code == 303, posted.text
    handled = (await client.get(f"/ui/appointments/{ids['A5']}", headers=DESK)).text
    assert 'value="reschedule_handled"' not in handled
    assert 'request">asked for another time' not in handled.split('id="timeline"')[0]
    assert "Mornings please" in handled  # the request stays in History
    target = ids["A8"]
    with store.engine.begin() as connection:  # the patient declines by the SMS link at 08:40 local
        connection.execute(insert(RESPONSES).values(
            channel="sms", sender="link", body=None, language="en", action="decline", outcome="applied",
            appointment_id=target, provider_id="link:r10", received_at=NOW - timedelta(minutes=80)))
        connection.execute(update(A).where(A.c.id == target).values(
            participation="declined", participation_at=NOW - timedelta(minutes=80)))
    page = (await client.get(f"/ui/appointments/{target}", headers=DESK)).text
    await client.post(f"/ui/appointments/{target}/actions", headers=DESK, data={
        "csrf": csrf_of(page), "action": "cancel", "reason": "patient_asked", "seen": seen_in(page, target)})
    history = (await client.get(f"/ui/appointments/{target}", headers=DESK)).text.split('id="timeline"')[1]
    patient = history.index("<strong>patient declined</strong> <span class=\"small\">by SMS link")
    desk_cancel = history.index("<strong>front desk: cancelled</strong>")
    assert patient < desk_cancel and "front desk declined" not in history and "by phone" not in history


async def test_left_a_message_comes_back_after_the_wait(desk: Desk, store: Store) -> None:
    client, ids = desk
    page = (await client.get("/ui/", headers=DESK)).text
    await client.post(f"/ui/appointments/{ids['A8']}/actions", headers=DESK, data={
        "csrf": csrf_of(page), "action": "left_message", "seen": seen_in(page, ids["A8"])})
    waiting = (await client.get("/ui/", headers=DESK)).text
    assert ids["A8"] not in row_ids(waiting) and "1 awaiting a call-back" in waiting
    listed = (await client.get("/ui/appointments", headers=DESK)).text
    assert "awaiting call-back" in listed
    _clock(client, NOW + timedelta(hours=3, minutes=1))
    later = (await client.get("/ui/", headers=DESK)).text
    assert ids["A8"] in row_ids(later) and "no call-back" in later and 'id="awaiting"' not in later
    assert 'name="refresh"' in later  # Today reloads itself like the other pages


async def test_a_forged_appointment_in_the_waitlist_form_is_refused(desk: Desk, store: Store) -> None:
    client, ids = desk
    page = (await client.get(f"/ui/waitlist?appointment={ids['A8']}", headers=DESK)).text
    assert f'name="appointment_id" value="{ids["A8"]}"' in page
    base = {"csrf": csrf_of(page), "connector": "csv", "patient_id": "P4", "windows": "mon-fri 09:00-17:00"}
    forged = await client.post("/ui/waitlist", headers=DESK, data={**base, "appointment_id": str(ids["A5"])})
    assert forged.status_code == 422 and "not an upcoming visit of this patient" in forged.text
    assert f'name="appointment_id" value="{ids["A5"]}"' not in forged.text
    for other in (str(ids["A4"]), "999999", "x"):  # a cancelled visit, no such visit, not an id
        assert (await client.post("/ui/waitlist", headers=DESK, data={**base, "appointment_id": other})
                ).status_code == 422
    with store.engine.connect() as connection:
        assert connection.execute(select(WAITLIST_ENTRIES)).all() == []
    own = await client.post("/ui/waitlist", headers=DESK, data={**base, "appointment_id": str(ids["A8"])})
    assert own.status_code == 303
    with store.engine.connect() as connection:
        assert connection.execute(select(WAITLIST_ENTRIES.c.current_appointment_id)).scalar() == ids["A8"]


@pytest.mark.parametrize("external_id", ["Jamal Weber", "jamal.weber@mail.example.com"])
async def test_the_viewer_sees_a_source_id_that_is_a_name_or_email_masked(
        desk: Desk, store: Store, external_id: str) -> None:
    client, ids = desk
    with store.engine.begin() as connection:
        connection.execute(update(A).where(A.c.id == ids["A5"]).values(external_id=external_id))
    viewer = (await client.get(f"/ui/appointments/{ids['A5']}", headers=MANAGER)).text
    assert external_id not in viewer and "id •••" in viewer
    assert external_id in (await client.get(f"/ui/appointments/{ids['A5']}", headers=DESK)).text


async def test_a_reschedule_request_is_no_no_answer_and_an_empty_filter_says_what_remains(
        desk: Desk, store: Store) -> None:
    client, ids = desk
    with store.engine.begin() as connection:
        connection.execute(insert(RESPONSES).values(
            channel="sms", sender="link", body="Afternoons", language="en", action="reschedule", outcome="requested",
            appointment_id=ids["A8"], provider_id="link:r10", received_at=NOW - timedelta(minutes=5)))
    page = (await client.get("/ui/", headers=DESK)).text
    row = page.split(f'data-id="{ids["A8"]}"')[1].split("</li>")[0]
    assert "Afternoons" in row and "also no answer" not in row  # she answered: she asked for another time
    empty = (await client.get("/ui/?need=failed", headers=DESK)).text
    assert "Nothing in this view; 3 to act on today and tomorrow" in empty


async def test_a_cancel_whose_slot_went_to_the_waiting_list_is_not_undone(desk: Desk, store: Store) -> None:
    client, ids = desk
    target = ids["A8"]
    page = (await client.get("/ui/", headers=DESK)).text
    done = await client.post(f"/ui/appointments/{target}/actions", headers=DESK, data={
        "csrf": csrf_of(page), "action": "cancel", "reason": "patient_asked", "seen": seen_in(page, target)})
    after = (await client.get(done.headers["location"], headers=DESK)).text
    with store.engine.begin() as connection:  # the waitlist stage freed the time and offered it meanwhile
        slot = connection.execute(insert(FREED_SLOTS).values(
            appointment_id=target, appointment_version=1, connector="csv", practitioner_ref="D2",
            start_utc=datetime(2026, 11, 19, 16, tzinfo=UTC), end_utc=datetime(2026, 11, 19, 16, 30, tzinfo=UTC),
            timezone="America/New_York", freed_by="desk", freed_at=NOW, status="open")).inserted_primary_key
        entry = connection.execute(insert(WAITLIST_ENTRIES).values(
            connector="csv", external_id="wl-1", patient_ref="P9", timezone="America/New_York", priority=0,
            waiting_since=NOW, status="waiting", content_hash="x", updated_at=NOW)).inserted_primary_key
        assert slot is not None and entry is not None
        connection.execute(insert(WAITLIST_OFFERS).values(slot_id=slot[0], entry_id=entry[0], rank=1, status="sent",
                                                          created_at=NOW, sent_at=NOW))
    action = re.search(r'action="(/ui/desk-actions/\d+/undo)"', after)
    assert action
    refused = await client.post(action.group(1), headers=DESK, data={
        "csrf": csrf_of(after), "seen": seen_of(store, [target])[target].digest})
    assert refused.status_code == 409 and "waiting list already has this time" in refused.text
    with store.engine.connect() as connection:
        assert connection.execute(select(A.c.participation).where(A.c.id == target)).scalar() == "declined"
        assert connection.execute(select(DESK_ACTIONS.c.undone_at)).scalar() is None


async def test_recorded_and_undone_name_the_patient_and_the_visit(desk: Desk, store: Store) -> None:
    """"Recorded: confirmed by phone." alone does not say which of forty calls it was: the line
    names the patient and the visit's time, and so does "Undone: …"; both are views in the
    access log."""
    client, ids = desk
    target = ids["A8"]  # Ann Lee, tomorrow 11:00 AM in New York
    today = (await client.get("/ui/", headers=DESK)).text
    posted = await client.post(f"/ui/appointments/{target}/actions", headers=DESK, data={
        "csrf": csrf_of(today), "action": "confirmed_by_phone", "seen": seen_in(today, target), "back": "/ui/"})
    after = (await client.get(posted.headers["location"], headers=DESK)).text
    line = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", after.split('id="undo-form"')[1].split("</form>")[0]))
    assert "Recorded: confirmed by phone — Ann Lee, Thu, Nov 19, 2026, 11:00" in line
    action = re.search(r'action="(/ui/desk-actions/\d+/undo)"', after)
    undo_seen = re.search(r'id="undo-form">.*?name="seen" value="([^"]+)"', after, re.DOTALL)
    assert action and undo_seen
    undone = await client.post(action.group(1), headers=DESK, data={
        "csrf": csrf_of(after), "seen": undo_seen.group(1), "back": "/ui/"})
    back = (await client.get(undone.headers["location"], headers=DESK)).text
    said = re.sub(r"<[^>]+>", "", back.split('id="undone">')[1].split("</p>")[0])
    assert said.startswith("Undone: Ann Lee's visit Thu, Nov 19, 2026, 11:00") and "is back as it was" in said
    with store.engine.connect() as connection:
        views = [r.view for r in connection.execute(select(ACCESS_LOG).order_by(ACCESS_LOG.c.id))]
    assert views.count("/ui/ (recorded, undone)") == 2
    forged = (await client.get(f"/ui/?undone=1&visit={ids['A1']}", headers=MANAGER)).text
    assert "Jamal" not in forged  # IT's home is the health page: nobody is named there


async def test_another_reason_takes_the_desks_words_shown_to_the_front_desk_only(desk: Desk, store: Store) -> None:
    client, ids = desk
    target = ids["A8"]
    page = (await client.get(f"/ui/appointments/{target}", headers=DESK)).text
    step = await client.post(f"/ui/appointments/{target}/actions", headers=DESK, data={
        "csrf": csrf_of(page), "action": "cancel", "seen": seen_in(page, target)})
    assert step.status_code == 200 and 'name="reason_text"' in step.text  # the confirm step has the box
    posted = await client.post(f"/ui/appointments/{target}/actions", headers=DESK, data={
        "csrf": csrf_of(page), "action": "cancel", "seen": seen_in(page, target), "reason": "other",
        "reason_text": "  the family   is travelling  "})
    assert posted.status_code == 303
    history = (await client.get(f"/ui/appointments/{target}", headers=DESK)).text.split('id="timeline"')[1]
    row = history.split("<strong>front desk: cancelled</strong>")[1].split("</li>")[0]
    assert "reason: another reason" in row and '<q class="small note">the family is travelling</q>' in row
    viewer = (await client.get(f"/ui/appointments/{target}", headers=MANAGER)).text
    assert "travelling" not in viewer and "reason: another reason" in viewer
    with store.engine.connect() as connection:
        assert connection.execute(select(DESK_ACTIONS.c.reason)).scalar() == "other"  # the key, never the words
