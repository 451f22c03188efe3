"""Differential properties of the calendar stage's shortcuts (issue 19): event ids without the
standard library's base32 encoder, a renderer that works out only what its templates use,
routing remembered per doctor, and an operation hashed once. Each gives what the plain
routine it replaced gives."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinicsync.common.timeutil import zone
from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.sync.calendar.desired import Renderer, Router, initials, patient_cancelled_text
from clinicsync.sync.calendar.provider import EventContent, Op, Outcome, event_id
from clinicsync.sync.calendar.push import push
from clinicsync.sync.config.settings.calendar import CLINIC, TEMPLATE_SAMPLE, CalendarSettings, template_environment
from clinicsync.sync.store.changes import CANCELLED_STATUSES
from clinicsync.sync.store.store import Store
from tests.sync.calendar.helpers import apply, appointment


def plain_event_id(connector: str, external_id: str) -> str:
    """provider.event_id before issue 19."""
    digest = hashlib.blake2b(f"{connector}\x1f{external_id}".encode(), digest_size=20).digest()
    return base64.b32hexencode(digest).decode("ascii").lower()


@settings(max_examples=500, deadline=None)
@given(st.text(), st.text())
def test_event_ids_are_base32hex_of_the_digest(connector: str, external_id: str) -> None:
    assert event_id(connector, external_id) == plain_event_id(connector, external_id)


def plain_content(settings: CalendarSettings, row: Any) -> EventContent | None:
    """desired.Renderer.content before issue 19: the whole context, every render through Jinja."""
    gone = row.deleted_at is not None or row.status in CANCELLED_STATUSES
    mode_setting = settings.patient_cancelled
    declined = (not gone and row.status in ACTIVE_STATUSES and row.participation == "declined"
                and mode_setting != "keep")
    gone = gone or (declined and mode_setting == "cancel")
    if gone and settings.cancelled_action != "mark_cancelled":
        return None
    if not gone and row.status not in ACTIVE_STATUSES and row.status != "noshow":
        return None
    local = zone(row.timezone)
    context = {
        "type": row.type, "status": "cancelled" if gone else row.status, "cancelled": gone,
        "noshow": row.status == "noshow" and not gone, "patient_initials": initials(row.p_name),
        "patient_name": row.p_name, "patient_phone": row.p_phone, "practitioner_name": row.d_name,
        "location": row.location, "timezone": row.timezone, "connector": row.connector,
        "appointment_id": row.external_id, "visit_mode": row.visit_mode or "in_person",
        "start_local": row.start_utc.astimezone(local).strftime("%Y-%m-%d %H:%M"),
        "end_local": row.end_utc.astimezone(local).strftime("%Y-%m-%d %H:%M"),
    }
    invite = settings.invite_patient
    attendees: tuple[str, ...] = ()
    if invite and row.p_email and row.allow_email:
        attendees = (row.p_email.strip().lower(),)
    mode = row.visit_mode if row.visit_mode in ("video", "phone") else None
    link = (row.join_url if invite else (row.provider_join_url or row.join_url)) if mode == "video" else None
    context.update(join_url=link, dial_in=row.dial_in if mode else None, patient_cancelled=declined,
                   source=row.connector, site=None, site_name=CLINIC.name, site_phone=None)  # no sites
    env = template_environment()
    create_meet = settings.provider == "google" and settings.google.create_meet
    summary = env.from_string(settings.summary).render(context).strip()
    description = env.from_string(settings.description).render(context).strip()
    if declined and not gone:
        summary, description = patient_cancelled_text(summary, description, settings.system_name(row.connector))
    return EventContent(
        connector=row.connector, external_id=row.external_id, summary=summary, description=description,
        location=row.location, start=row.start_utc, end=row.end_utc, timezone=row.timezone,
        cancelled=gone, attendees=attendees, visit_mode=mode, join_url=link,
        dial_in=row.dial_in if mode else None,
        create_meet=create_meet and mode == "video" and link is None and not gone,
        patient_cancelled=declined and not gone)


TEMPLATES = st.sampled_from([
    None, "", "{{ type }}", "{{ patient_initials }} {{ type }}", "{{ start_local }} to {{ end_local }}",
    "{{ end_local }}", "{% if cancelled %}X {% endif %}{{ patient_name }} {{ practitioner_name }}",
    "{{ status }} {{ noshow }} {{ dial_in }}",
    "{{ " + " ~ ".join(f"({name} | string)" for name in sorted(TEMPLATE_SAMPLE)) + " }}",
])
ROWS = st.fixed_dictionaries({
    "connector": st.sampled_from(["csv", "sql"]), "external_id": st.sampled_from(["A1", "A2", "B;7"]),
    "status": st.sampled_from(["booked", "noshow", "cancelled", "waitlist", "fulfilled", "pending"]),
    "start_utc": st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31)).map(lambda d: d.replace(tzinfo=UTC)),
    "minutes": st.integers(5, 240), "timezone": st.sampled_from(["America/New_York", "Europe/Zurich", "UTC"]),
    "type": st.sampled_from(["Vaccination", "Follow-up", None]), "deleted": st.booleans(),
    "p_name": st.sampled_from(["Jamal Weber", "ana maría garcía", None, "  ", "Cher"]),
    "p_phone": st.sampled_from(["+12015550165", None]), "p_email": st.sampled_from([" Jamal@Mail.example.com", None]),
    "allow_email": st.booleans(), "d_name": st.sampled_from(["Dr. Hart", None]),
    "location": st.sampled_from(["Main Street", None]), "visit_mode": st.sampled_from([None, "in_person", "video",
                                                                                     "phone"]),
    "join_url": st.sampled_from([None, "https://vc.example.org/p"]),
    "provider_join_url": st.sampled_from([None, "https://vc.example.org/d"]),
    "dial_in": st.sampled_from([None, "+13125550188"]),
    "participation": st.sampled_from([None, "accepted", "declined"]),
})


def as_row(data: dict[str, Any]) -> SimpleNamespace:
    data = dict(data)
    data["end_utc"] = data["start_utc"] + timedelta(minutes=data.pop("minutes"))
    data["deleted_at"] = data["start_utc"] if data.pop("deleted") else None
    return SimpleNamespace(**data)


@settings(max_examples=60, deadline=None)  # 150 when it was written; each example renders up to 12 rows twice
@given(TEMPLATES, TEMPLATES, st.booleans(), st.sampled_from(["delete", "mark_cancelled"]),
       st.sampled_from(["mark", "cancel", "keep"]), st.lists(ROWS, min_size=1, max_size=12))
def test_the_renderer_gives_what_the_whole_context_gives(summary: str | None, description: str | None, invite: bool,
                                                         action: str, patient: str, rows: list[dict[str, Any]]) -> None:
    chosen = {k: v for k, v in (("summary", summary), ("description", description)) if v is not None}
    calendar = CalendarSettings.model_validate({"provider": "ics", "invite_patient": invite,
                                                "cancelled_action": action, "patient_cancelled": patient, **chosen})
    renderer = Renderer(calendar)  # one per run: its memos see every row
    for data in rows:
        row = as_row(data)
        assert renderer.content(row) == plain_content(calendar, row)


def test_a_row_in_an_unknown_zone_still_fails_when_no_template_shows_a_time() -> None:
    renderer = Renderer(CalendarSettings(summary="{{ type }}", description=""))
    row = as_row({"connector": "csv", "external_id": "A1", "status": "booked",
                  "start_utc": datetime(2027, 1, 4, 13, tzinfo=UTC), "minutes": 30, "timezone": "Mars/Olympus",
                  "type": "x", "deleted": False, "p_name": None, "p_phone": None, "p_email": None,
                  "allow_email": False, "d_name": None, "location": None, "visit_mode": None, "join_url": None,
                  "provider_join_url": None, "dial_in": None, "participation": None})
    with pytest.raises(Exception, match="Mars/Olympus"):
        renderer.content(row)


def test_routing_is_remembered_per_doctor_and_gives_what_a_fresh_router_gives() -> None:
    settings_ = CalendarSettings.model_validate({"provider": "ics", "calendars": [
        {"practitioner": "D02", "calendar_id": "team"}, {"practitioner": "D03", "skip": True}]})
    router = Router(settings_)
    asked = [("csv", d, e) for d in ("D01", "D02", "D03", None) for e in ("A@b.org", None, " a@B.org ")] * 2
    assert [router.target(*a) for a in asked] == [Router(settings_).target(*a) for a in asked]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_each_operation_carries_its_contents_hash(store: Store, tmp_path: Path) -> None:
    from clinicsync.sync.calendar.ics import IcsCalendar

    apply(store, appointment("A1"), appointment("A2", doctor="D02"))
    calendar = CalendarSettings.model_validate({"provider": "ics", "ics": {"directory": str(tmp_path / "cal")}})
    seen: list[Op] = []

    def check(ops: Any, _outcomes: Any) -> None:
        seen.extend(ops)

    provider = IcsCalendar(calendar.ics, store.engine)
    push(calendar, store.engine, provider, on_outcomes=check)
    assert len(seen) == 2
    for op in seen:
        assert op.content is not None and op.digest == op.content.digest() == op.content_hash
        assert replace(op, digest=None).content_hash == op.content_hash and replace(op, digest=None) == op
    assert Outcome(1, True).ok


def test_the_truth_reads_what_the_plain_select_reads(store: Store) -> None:
    from sqlalchemy import select, update

    from clinicsync.sync.calendar import desired
    from clinicsync.sync.store.tables import (
        with_people,  # the stage's tables (sync/store/tables.py), as desired reads them
    )
    from tests.sync.calendar.helpers import base_time

    apply(store, *[appointment(f"A{i}", base_time() + timedelta(hours=i % 3), doctor=("D01", "D02", None)[i % 3])
                   for i in range(8)])
    a = desired.A
    with store.engine.begin() as connection:
        connection.execute(update(desired.APPOINTMENTS).where(a.external_id == "A4")
                           .values(deleted_at=datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)))
        plain = [tuple(r) for r in connection.execute(
            select(*desired._COLUMNS).select_from(with_people()).where(a.id > 2).order_by(a.id).limit(4))]
    since = base_time() - timedelta(days=400)
    found = desired._rows(store.engine, since, after_id=2, limit=4)
    assert [tuple(r) for r in found] == plain and len(plain) == 4
    assert any(r.deleted_at is not None for r in found) and found[0].start_utc.tzinfo is not None
    assert all(type(r) is desired.TruthRow for r in found)
    assert desired._rows(store.engine, since, after_id=10_000) == []


VALUES = st.one_of(st.none(), st.sampled_from(["", "Room 4", "+1 (201) 555-0165", "call 2015550165 first",
                                                "jamal@mail.example.com", "JAMAL@MAIL.EXAMPLE.COM desk", "Main St"]),
                   st.text(alphabet="0123456789 -+()@.abcJ", max_size=20))


@settings(max_examples=500, deadline=None)
@given(VALUES, st.sampled_from([None, "", "+12015550165", "(201) 555-0165", "555-01", "+1 201 555 01 65"]),
       st.sampled_from([None, "", "  ", " Jamal@Mail.example.com", "jamal@mail.example.com", "@"]))
def test_the_shared_privacy_check_gives_what_a_patients_contact_gives(value: str | None, phone: str | None,
                                                                       email: str | None) -> None:
    from clinicsync.sync.calendar.privacy import PatientContact, shown

    assert shown(value, phone, email) == PatientContact(phone, email).shown(value)
    assert shown(value, phone, email) == PatientContact(phone, email).shown(value)  # remembered: the same


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31)).map(str),
                 st.datetimes(datetime(1000, 1, 1), datetime(9999, 12, 31)).map(
                     lambda d: d.strftime("%Y-%m-%d %H:%M:%S.%f")),
                 st.sampled_from(["2027-01-04 13:15:00", "2027-01-04T13:15:00.000000", "2027-13-04 13:15:00.000000",
                                  "2027-01-04 13:15:00.00000x", "2027-01-04 13:15:00.123456+02:00"])))
def test_stored_times_read_as_the_column_type_reads_them(value: str) -> None:
    from sqlalchemy.dialects import sqlite

    from clinicsync.sync.calendar import desired

    dialect = sqlite.dialect()
    process = desired.A.start_utc.type.dialect_impl(dialect).result_processor(dialect, None)
    try:
        expected: Any = process(value)
    except ValueError as exc:
        expected = type(exc)
    try:
        found: Any = desired._stored_time(process)(value)
    except ValueError as exc:
        found = type(exc)
    assert found == expected and getattr(found, "tzinfo", None) == getattr(expected, "tzinfo", None)


def test_stored_times_in_the_stores_form_are_utc_itself() -> None:
    """The fast path's zone is the datetime module's UTC instance, as ``replace(tzinfo=UTC)`` gave
    (a ``+00:00`` parsed: not another ``timezone`` equal to it), so the values hash, compare and
    serialize as before."""
    from sqlalchemy.dialects import sqlite

    from clinicsync.sync.calendar import desired

    dialect = sqlite.dialect()
    process = desired.A.start_utc.type.dialect_impl(dialect).result_processor(dialect, None)
    found = desired._stored_time(process)("2027-01-04 13:15:00.000000")
    assert found == datetime(2027, 1, 4, 13, 15, tzinfo=UTC) and found.tzinfo is UTC
    assert found == process("2027-01-04 13:15:00.000000")


def test_built_is_the_dataclass_its_init_would_make() -> None:
    """provider.built (no generated __init__) gives an equal instance, hashed, compared and
    serialized alike, its fields in the same order; a field missing or out of order is refused."""
    import orjson

    from clinicsync.sync.calendar.provider import Target, built

    start = datetime(2027, 1, 4, 13, tzinfo=UTC)
    values = {"connector": "csv", "external_id": "A1", "summary": "S", "description": "D", "location": None,
              "start": start, "end": start + timedelta(minutes=30), "timezone": "America/New_York",
              "cancelled": False, "attendees": ("a@b.c",), "visit_mode": "video", "join_url": "https://x",
              "dial_in": None, "create_meet": False, "patient_cancelled": True}
    made, plain = built(EventContent, **values), EventContent(**values)
    assert made == plain and hash(made) == hash(plain) and made.digest() == plain.digest()
    assert orjson.dumps(made) == orjson.dumps(plain) and vars(made) == vars(plain)
    assert list(vars(made)) == list(vars(plain))
    op_values = {"key": -1, "kind": "insert", "target": Target("ics", "", "d"), "event_id": "e", "content": made,
                 "notify": False, "digest": "h", "source": "s"}
    op = built(Op, **op_values)
    assert op == Op(**op_values) and op.content_hash == "h" and replace(op, digest=None) == op
    with pytest.raises(AssertionError):
        built(Op, **dict(reversed(op_values.items())))
    with pytest.raises(AssertionError):
        built(Op, key=1, kind="insert")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.text(), st.booleans()),
                max_size=6))
def test_source_digest_is_the_hash_of_key_and_row(row: list[Any]) -> None:
    """The key hashed once per run, then the row hashed: 16 hex digits each (a settings edit
    changes the first half only: desired.rerendered)."""
    import orjson

    renderer = Renderer(CalendarSettings())
    half = partial(hashlib.blake2b, digest_size=8)
    assert renderer.source_digest(tuple(row)) == (half(renderer.key).hexdigest()
                                                  + half(orjson.dumps(tuple(row))).hexdigest())


def test_desired_and_planned_built_by_the_tuples_constructor_are_the_named_tuples() -> None:
    """desired._desired and push._planned (tuple.__new__, no generated __new__) give the same
    NamedTuple as calling the class; the waiting operations' sort key is (the target's fields,
    the appointment id)."""
    from clinicsync.sync.calendar import desired, push
    from clinicsync.sync.calendar.provider import Target

    target = Target("ics", "", "dr.hart", name="Dr. Hart")
    made = desired._desired((7, "e7", target, None, "csv/D1", "s", False))
    assert made == desired.Desired(7, "e7", target, None, "csv/D1", "s") and type(made) is desired.Desired
    assert (made.appointment_id, made.source, made.unchanged, made.skipped) == (7, "s", False, False)
    planned = push._planned((7, target, "e7", "insert", made, None))
    assert planned == push.Planned(7, target, "e7", "insert", made, None) and type(planned) is push.Planned
    assert push._order(planned) == ("ics", "", "dr.hart", 7)


def _contents() -> list[EventContent | None]:
    start = datetime(2027, 1, 4, 13, 15, tzinfo=UTC)
    shown = EventContent("csv", "A1", "Visit", "", None, start, start + timedelta(minutes=30), "UTC")
    return [None, shown, replace(shown, cancelled=True)]


def test_planning_a_never_pushed_event_decides_as_the_general_way() -> None:
    """push.plan's shortcut for an appointment without links gives the operations, counts and
    remembered sources that the general way (_decide, skipped) gives, for every
    combination of target, content, source and unchanged, with no links or an empty list."""
    from itertools import product

    from clinicsync.sync.calendar.desired import Desired
    from clinicsync.sync.calendar.provider import Target
    from clinicsync.sync.calendar.push import PushReport, plan

    targets = [None, Target("ics", "", "doctor_a"), Target("google", "x@example.org", "primary")]
    cases = 0
    for target, content, source, unchanged, links in product(
            targets, _contents(), [None, "s" * 32], [False, True], [{}, {7: []}]):
        desired = Desired(7, "evid", target, content, "csv/D1", source, unchanged)
        fast_report, fast_remember = PushReport(), []
        fast = plan([desired], links, fast_report, fast_remember)
        slow_report, slow_remember = PushReport(), []
        slow = plan([desired], links, slow_report, slow_remember, shortcut=False)
        assert (fast, fast_report, fast_remember) == (slow, slow_report, slow_remember), desired
        cases += 1
    assert cases == 72
