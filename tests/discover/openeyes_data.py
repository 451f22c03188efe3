"""Rows as OpenEyes writes them (tests/fixtures/ehr/openeyes, with its SOURCE note), for the test
of `discover` on its real shape: an NHS eye hospital in London booking cataract and glaucoma
operations. Everyone with a name is a ``contact`` row (title, first and last name, the phone in
``primary_phone``): a patient is a ``patient`` row keyed to its contact, a surgeon a ``user`` row
keyed to its contact. A patient's care under a team (a *firm*, whose ``consultant_id`` is the
consultant user) is an ``episode``; each thing done in it an ``event`` (soft-deleted by its
``deleted`` flag, as an episode is by its own); an operation booking event carries one
``et_ophtroperationbooking_operation`` element, and each time the operation is put on a theatre
list a ``ophtroperationbooking_operation_booking`` row refers to that element and to the list (a
``ophtroperationbooking_operation_session``: its ``date``, its ``start_time``/``end_time``, its
theatre and its firm). The patient's own time is the booking's ``admission_time`` on the
session's date (the booking keeps a copy of the session's date and times beside it); a booking
cancelled or moved to another list has its ``booking_cancellation_date`` set and stays."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.discover import real_ehr_support as real

ZONE, REGION = "Europe/London", "GB"
FIXTURE = real.FIXTURES / "openeyes" / "schema.sql"
CONSULTANTS = [("Mr", "Rajesh", "Kumar", "Cataract"), ("Miss", "Eleanor", "Hughes", "Glaucoma"),
               ("Mr", "David", "Okafor", "Vitreoretinal"), ("Ms", "Sarah", "Lindqvist", "Oculoplastics")]
STAFF = [("Mrs", "Janet", "Moss", "Theatre coordinator"), ("Mr", "Tom", "Baker", "Booking clerk"),
         ("Dr", "Amira", "Haddad", "Registrar")]
GIVEN = ["Margaret", "George", "Doris", "Arthur", "Patricia", "Harold", "Joan", "Kenneth", "Brenda", "Derek",
         "Sandra", "Colin", "Pauline", "Trevor", "Aisha", "Mohammed", "Grace", "Owen"]
FAMILY = ["Thompson", "Walker", "Robinson", "Wright", "Khan", "Evans", "Roberts", "Clarke", "Hall", "Patel",
          "Turner", "Hughes", "Edwards", "Collins", "Begum", "Murphy", "Cooper", "Ward"]
TITLES = {"Margaret": "Mrs", "Doris": "Mrs", "Patricia": "Ms", "Joan": "Mrs", "Brenda": "Miss", "Sandra": "Mrs",
          "Pauline": "Ms", "Aisha": "Ms", "Grace": "Miss"}
STATUSES = ["Requires scheduling", "Scheduled", "Requires rescheduling", "Rescheduled", "Cancelled", "Completed"]
THEATRES = [("Theatre 1", "TH1"), ("Theatre 2", "TH2"), ("Day Case Theatre", "DCT")]
WARDS = [("Day Surgery", "DSU"), ("Mackellar Ward", "MAC")]
PATIENTS, BOOKINGS = 70, 100
STAMP_USER = 1  # the admin user every row's created_user_id/last_modified_user_id names


def _uk_phone(rng: random.Random, n: int) -> tuple[str | None, str | None]:
    """A patient's ``primary_phone`` as a clerk typed it, and its E.164 form: mostly a mobile
    (07..., some +44 7...), some a London or Leeds landline, a few none."""
    if n % 17 == 9:
        return None, None
    if n % 6 == 4:
        number = real.valid_number(rng, ("+44207", "+44113")[n % 2], 13)
        local = "0" + number[3:]
        return (f"{local[:3]} {local[3:7]} {local[7:]}" if n % 2 == 0 else f"{local[:4]} {local[4:7]} {local[7:]}",
                number)
    number = real.valid_number(rng, "+447", 13)
    local = "0" + number[3:]
    return (f"{local[:5]} {local[5:]}" if n % 5 else f"+44 {number[3:7]} {number[7:]}"), number


def _contact(cursor: Any, title: str | None, given: str, family: str, phone: str | None, stamp: datetime) -> int:
    return real.insert_row(cursor, "contact", {
        "title": title, "first_name": given, "last_name": family, "primary_phone": phone,
        "created_user_id": STAMP_USER, "last_modified_user_id": STAMP_USER, "created_date": stamp,
        "last_modified_date": stamp})


def _user(cursor: Any, username: str, person: tuple[str, str, str, str], consultant: bool, stamp: datetime) -> int:
    title, given, family, role = person
    contact = _contact(cursor, title, given, family, None, stamp)
    return real.insert_row(cursor, "user", {
        "username": username, "first_name": given, "last_name": family,
        "email": f"{given.lower()}.{family.lower()}@nhs.example", "active": 1, "title": title,
        "qualifications": "FRCOphth" if consultant else "", "role": role if not consultant else "Consultant",
        "contact_id": contact, "is_consultant": int(consultant), "is_surgeon": int(consultant or role == "Registrar"),
        "has_selected_firms": 0, "created_user_id": STAMP_USER, "last_modified_user_id": STAMP_USER,
        "created_date": stamp, "last_modified_date": stamp})


def _reference(cursor: Any, stamp: datetime) -> tuple[int, int, list[int], list[int]]:
    """The admin user, the site, its theatres and wards, the statuses and reasons, the event types."""
    cursor.execute("SET FOREIGN_KEY_CHECKS = 0")  # the first user and its contact name each other
    cursor.execute("INSERT INTO contact (id, first_name, last_name, created_date, last_modified_date) "
                   "VALUES (1, 'Enoch', 'Root', %s, %s)", (stamp, stamp))
    cursor.execute("INSERT INTO user (id, username, first_name, last_name, email, active, title, qualifications, "
                   "role, contact_id, has_selected_firms, created_date, last_modified_date) VALUES "
                   "(1, 'admin', 'Enoch', 'Root', 'admin@nhs.example', 1, 'Mr', '', 'admin role', 1, 0, %s, %s)",
                   (stamp, stamp))
    cursor.execute("SET FOREIGN_KEY_CHECKS = 1")
    site_contact = _contact(cursor, None, "Eye", "Hospital", "020 7946 0000", stamp)
    site = real.insert_row(cursor, "site", {
        "name": "City Road Eye Hospital", "remote_id": "RP6", "short_name": "City Road", "fax": "",
        "telephone": "020 7946 0000", "location": "London", "contact_id": site_contact})
    wards = [real.insert_row(cursor, "ophtroperationbooking_operation_ward", {
        "site_id": site, "name": name, "long_name": f"{name} Unit", "directions": "Ground floor, follow signs",
        "code": code, "display_order": i}) for i, (name, code) in enumerate(WARDS, 1)]
    theatres = [real.insert_row(cursor, "ophtroperationbooking_operation_theatre", {
        "name": name, "site_id": site, "code": code, "display_order": i, "ward_id": wards[i % 2]})
        for i, (name, code) in enumerate(THEATRES, 1)]
    for i, name in enumerate(STATUSES, 1):
        real.insert_row(cursor, "ophtroperationbooking_operation_status", {"id": i, "name": name})
    reasons = [("Patient cancelled", 1), ("Hospital cancelled: list overrun", 2), ("Patient unwell", 1),
               ("Consultant unavailable", 2)]
    for i, (text, listed) in enumerate(reasons, 1):
        real.insert_row(cursor, "ophtroperationbooking_operation_cancellation_reason",
                        {"id": i, "text": text, "list_no": listed})
    kinds = [("Examination", "OphCiExamination"), ("Operation booking", "OphTrOperationbooking"),
             ("Operation note", "OphTrOperationnote"), ("Correspondence", "OphCoCorrespondence")]
    for i, (name, klass) in enumerate(kinds, 1):
        real.insert_row(cursor, "event_type", {"id": i, "name": name, "event_group_id": 1, "class_name": klass})
    return site, STAMP_USER, theatres, wards


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The schema from the fixture, filled; per booking ahead (keyed by its id, as a string) every
    field the store must hold. Bookings whose event or episode is deleted, or whose patient is,
    are not visits: absent from the truth."""
    real.run_ddl(cursor, FIXTURE)
    rng = random.Random(4417)
    clinic = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = _wall(now - timedelta(days=500), clinic)
    site, _, theatres, wards = _reference(cursor, stamp)
    consultants = [_user(cursor, f"{p[2].lower()}{p[1][0].lower()}", p, True, stamp) for p in CONSULTANTS]
    staff = [_user(cursor, f"{p[2].lower()}{p[1][0].lower()}", p, False, stamp) for p in STAFF]
    firms = [real.insert_row(cursor, "firm", {
        "name": f"{p[2]} {p[3]}", "pas_code": f"{p[2][:3].upper()}", "consultant_id": user,
        "service_subspecialty_assignment_id": i + 1, "created_date": stamp, "last_modified_date": stamp})
        for i, (p, user) in enumerate(zip(CONSULTANTS, consultants, strict=True))]
    patients = []
    for p in range(PATIENTS):
        given, family = GIVEN[p % len(GIVEN)], FAMILY[(p * 5 + p // len(GIVEN)) % len(FAMILY)]
        typed, phone = _uk_phone(rng, p)
        contact = _contact(cursor, TITLES.get(given, "Mr"), given, family, typed, stamp)
        deleted = int(p % 23 == 11)  # a duplicate record merged away
        patient = real.insert_row(cursor, "patient", {
            "dob": date(1935 + p % 50, 1 + p % 12, 1 + p % 27), "gender": "F" if given in TITLES else "M",
            "hos_num": f"{1000000 + p * 37}", "nhs_num": f"{4000000000 + p * 7919}", "contact_id": contact,
            "deleted": deleted, "created_date": stamp, "last_modified_date": stamp})
        real.insert_row(cursor, "address", {
            "address1": f"{3 + p} Pentonville Road", "city": "London", "postcode": f"N1 {p % 9}AB", "country_id": 1,
            "contact_id": contact, "date_start": stamp, "date_end": None if p % 7 else stamp + timedelta(days=90),
            "address_type_id": 1, "created_date": stamp, "last_modified_date": stamp})
        if p % 7 == 0:  # moved house: the old address ended, a newer one open
            real.insert_row(cursor, "address", {
                "address1": f"{p} Old Street", "city": "London", "postcode": "EC1V 9NR", "country_id": 1,
                "contact_id": contact, "date_start": stamp + timedelta(days=90), "date_end": None,
                "address_type_id": 1, "created_date": stamp, "last_modified_date": stamp})
        patients.append((patient, f"{given} {family}", phone, deleted))
    today = now.astimezone(clinic).date()
    sessions = []
    for d in range(-20, 30):
        day = today + timedelta(days=d)
        if day.weekday() >= 5:
            continue
        for half, (begin, finish) in enumerate([(time(8, 30), time(12, 30)), (time(13, 30), time(17, 30))]):
            f = (d + half) % len(firms)
            theatre = theatres[(d + half) % len(theatres)]
            session = real.insert_row(cursor, "ophtroperationbooking_operation_session", {
                "sequence_id": 1 + f, "firm_id": firms[f], "date": day, "start_time": begin, "end_time": finish,
                "consultant": 1, "anaesthetist": half, "theatre_id": theatre,
                "default_admission_time": (datetime.combine(day, begin) - timedelta(minutes=60)).time(),
                "created_date": stamp, "last_modified_date": stamp})
            sessions.append((session, day, begin, finish, f, theatre))
    episodes: dict[tuple[int, int], tuple[int, bool]] = {}
    truth: dict[str, dict[str, Any]] = {}
    past = [s for s in sessions if s[1] < today]
    ahead = [s for s in sessions if s[1] > today]
    plan = [(n, past[n % len(past)], True) for n in range(30)] + \
           [(n, ahead[(n * 3) % len(ahead)], False) for n in range(BOOKINGS)]
    for n, (session, day, begin, finish, f, theatre), before in plan:
        patient, name, phone, patient_deleted = patients[(n * 11 + int(before)) % PATIENTS]
        key = (patient, firms[f])
        if key not in episodes:
            gone = not before and n % 29 == 13  # an episode opened in error, deleted with its events
            episode = real.insert_row(cursor, "episode", {
                "patient_id": patient, "firm_id": firms[f], "start_date": stamp + timedelta(days=n % 40),
                "episode_status_id": 3, "deleted": int(gone), "created_date": stamp, "last_modified_date": stamp})
            episodes[key] = (episode, gone)
            real.insert_row(cursor, "event", {  # the clinic visit that led to the listing
                "episode_id": episode, "event_type_id": 1, "created_user_id": consultants[f],
                "event_date": _wall(now - timedelta(days=60 - n % 30), clinic), "info": "",
                "created_date": _wall(now - timedelta(days=60 - n % 30), clinic),
                "last_modified_date": stamp, "firm_id": firms[f]})
        episode, episode_gone = episodes[key]
        listed = _wall(now - timedelta(days=30 - n % 20, hours=n % 5), clinic)
        event_gone = not before and n % 31 == 7  # booked on the wrong patient, deleted
        event = real.insert_row(cursor, "event", {
            "episode_id": episode, "event_type_id": 2, "created_user_id": staff[n % 2], "event_date": listed,
            "info": "Scheduled", "deleted": int(event_gone),
            "delete_reason": "Wrong patient" if event_gone else None, "created_date": listed,
            "last_modified_date": listed, "firm_id": firms[f]})
        cancelled = not before and n % 9 == 4
        moved = not before and n % 11 == 6
        duration = (20, 30, 45, 60, 90)[n % 5]
        element = real.insert_row(cursor, "et_ophtroperationbooking_operation", {
            "event_id": event, "eye_id": 1 + n % 3, "consultant_required": int(n % 3 == 0), "anaesthetic_type_id": 1,
            "site_id": site, "priority_id": 1, "decision_date": listed.date(), "total_duration": duration,
            "status_id": 6 if before else (5 if cancelled else (4 if moved else 2)),
            "operation_cancellation_date": listed + timedelta(days=3) if cancelled else None,
            "cancellation_reason_id": 1 if cancelled else None, "cancellation_comment": "",
            "created_user_id": staff[n % 2], "last_modified_user_id": staff[n % 2],
            "created_date": listed, "last_modified_date": listed})
        admission = (datetime.combine(day, begin) - timedelta(minutes=60) + timedelta(minutes=30 * (n % 6))).time()

        def book(on: tuple[int, date, time, time, int, int], at: time, order: int, ended: datetime | None) -> int:
            s_id, s_day, s_begin, s_finish, _, s_theatre = on
            return real.insert_row(cursor, "ophtroperationbooking_operation_booking", {
                "element_id": element, "session_id": s_id, "display_order": order,
                "ward_id": wards[n % 2], "admission_time": at, "confirmed": int(n % 4 != 3),
                "session_date": s_day, "session_start_time": s_begin, "session_end_time": s_finish,
                "session_theatre_id": s_theatre, "booking_cancellation_date": ended,
                "cancellation_reason_id": (2 if ended and moved else 1) if ended else None,
                "cancellation_comment": "", "cancellation_user_id": staff[0] if ended else None,
                "created_user_id": staff[n % 2], "last_modified_user_id": staff[n % 2],
                "created_date": listed, "last_modified_date": listed})

        first = (session, day, begin, finish, f, theatre)
        bookings = []
        if moved:  # first put on an earlier list that was then cancelled: that booking ended
            earlier = ahead[(n * 3 + 5) % len(ahead)]
            at = (datetime.combine(earlier[1], earlier[2]) - timedelta(minutes=30)).time()
            bookings.append((book(earlier, at, n % 6, listed + timedelta(days=1)), earlier, at, True))
        ended = listed + timedelta(days=3) if cancelled else None
        bookings.append((book(first, admission, n % 6, ended), first, admission, cancelled))
        cursor.execute("UPDATE et_ophtroperationbooking_operation SET latest_booking_id = %s WHERE id = %s",
                       (bookings[-1][0], element))
        if before or event_gone or episode_gone or patient_deleted:
            continue
        for booking, (_, b_day, _, _, b_firm, _), at, off in bookings:  # the list's firm's consultant
            start = datetime.combine(b_day, at, tzinfo=clinic)
            doctor = CONSULTANTS[b_firm]
            truth[str(booking)] = {
                "start": _iso(start), "end": _iso(start + timedelta(minutes=duration)),
                "status": "cancelled" if off else "booked", "patient": str(patient), "name": name,
                "phone": phone, "doctor": str(consultants[b_firm]), "doctor_name": f"{doctor[1]} {doctor[2]}",
                "zone": ZONE}
    return truth
