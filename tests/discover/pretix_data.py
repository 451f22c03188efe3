"""Rows as pretix writes them (tests/fixtures/ehr/pretix, with its SOURCE note), for the test of
`discover` on its real shape: a vaccination centre in Germany booking its time slots in pretix.
One organizer; the vaccination is an event with dates (``has_subevents``), one ``subevent`` per
time slot (``date_from`` the slot's start, ``location`` the site), its name, the sites and the
products (first, second, booster dose) I18n text holding JSON by language; the event's time zone
is the ``timezone`` row of its settings store, beside its other settings. Each order (``code``,
``status`` 'n' pending 'p' paid 'e' expired 'c' canceled, the booker's email and E.164 phone)
holds one position per person who comes (``attendee_name_parts`` JSON, the cached joined name,
their own email or none); a family books two people in one order. Now and then an order adds a
parking space to a person's ticket: a position of its own (no name, no email, another product)
whose ``addon_to_id`` is the position it belongs to, in the same slot: no person who comes. A
second event of the same organizer is long past (a closed test centre); a third, ahead, is the
organizer's travel test centre in London, its zone ``Europe/London`` in its own settings, its
slots in London's hours. Beside the slots ahead: past slots with their orders, a few expired and
canceled orders, and a position canceled alone in a paid order."""

from __future__ import annotations

import json
import random
import string
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from tests.discover import real_ehr_support as real

ZONE, REGION = "Europe/Berlin", "DE"
ABROAD = "Europe/London"  # the travel test centre's zone (the clinic's is ZONE)
FIXTURE = real.FIXTURES / "pretix" / "schema.sql"
EVENT_NAME = {"de": "Corona-Schutzimpfung", "en": "COVID-19 vaccination"}
SITES = [{"de": "Impfzentrum Messehalle 3", "en": "Vaccination centre, fair hall 3"},
         {"de": "Impfstelle Rathausplatz", "en": "Vaccination point, town hall square"}]
PRODUCTS = [{"de": "Erstimpfung", "en": "First dose"}, {"de": "Zweitimpfung", "en": "Second dose"},
            {"de": "Auffrischungsimpfung", "en": "Booster"}]
PARKING = {"de": "Parkplatz", "en": "Parking space"}  # an add-on product: no admission, nobody named
TRAVEL_NAME = {"de": "PCR-Reisetest London", "en": "PCR travel test London"}
TRAVEL_SITE = {"de": "Testzentrum Flughafen Heathrow", "en": "Test centre, Heathrow Airport"}
TRAVEL_PRODUCTS = [{"de": "PCR-Test", "en": "PCR test"}, {"de": "PCR-Expresstest", "en": "Express PCR test"}]
GIVEN = ["Anna", "Jonas", "Lena", "Lukas", "Marie", "Felix", "Sophie", "Paul", "Emilia", "Jürgen", "Hannah",
         "Maximilian", "Leonie", "Özlem", "Karl", "Ingrid", "Mehmet", "Greta"]
FAMILY = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
          "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Kaya", "Braun", "Zimmermann"]
SLOTS, PAST_SLOTS = 40, 12


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _i18n(words: dict[str, str]) -> str:
    return json.dumps(words, ensure_ascii=False)


def _code(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(length))


class _Db:
    def __init__(self, connection: psycopg.Connection[Any], now: datetime, rng: random.Random) -> None:
        self.ex = connection.execute
        self.now, self.rng = now, rng
        self.web: dict[int, int] = {}

    def organizer(self, name: str, slug: str) -> int:
        """An organizer with the ``web`` sales channel pretix gives every organizer (orders name it)."""
        organizer = self.insert("pretixbase_organizer", {"name": name, "slug": slug})
        self.web[organizer] = self.insert("pretixbase_saleschannel", {
            "label": _i18n({"en": "Online shop"}), "identifier": "web", "type": "web", "position": 0,
            "configuration": "{}", "organizer_id": organizer})
        return organizer

    def insert(self, table: str, row: dict[str, Any]) -> int:
        columns = ", ".join(f'"{c}"' for c in row)
        found = self.ex(f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join(["%s"] * len(row))}) RETURNING id',
                        list(row.values())).fetchone()
        assert found is not None
        return int(found[0])

    def event(self, organizer: int, name: dict[str, str], slug: str, start: datetime, subevents: bool,
              settings: dict[str, str]) -> int:
        event = self.insert("pretixbase_event", {
            "name": _i18n(name), "slug": slug, "currency": "EUR", "date_from": start, "date_to": None,
            "is_public": True, "plugins": "pretix.plugins.sendmail,pretix.plugins.ticketoutputpdf",
            "organizer_id": organizer, "live": True, "location": None, "has_subevents": subevents,
            "testmode": False, "all_sales_channels": True, "last_modified": self.now - timedelta(days=20)})
        for key, value in settings.items():
            self.insert("pretixbase_event_settingsstore", {"key": key, "value": value, "object_id": event})
        return event

    def slot(self, event: int, name: dict[str, str], start: datetime, minutes: int, site: dict[str, str]) -> int:
        return self.insert("pretixbase_subevent", {
            "active": True, "name": _i18n(name), "date_from": start, "date_to": start + timedelta(minutes=minutes),
            "location": _i18n(site), "event_id": event, "is_public": True,
            "last_modified": self.now - timedelta(days=15)})

    def item(self, event: int, name: dict[str, str], position: int, admission: bool = True) -> int:
        return self.insert("pretixbase_item", {
            "name": _i18n(name), "internal_name": None, "active": True, "default_price": 0, "admission": admission,
            "personalized": admission, "position": position, "event_id": event, "free_price": False,
            "allow_cancel": True, "require_approval": False, "all_sales_channels": True})

    def order(self, organizer: int, event: int, status: str, email: str | None, phone: str | None,
              placed: datetime) -> int:
        return self.insert("pretixbase_order", {
            "code": _code(self.rng, 5), "status": status, "testmode": False, "email": email, "phone": phone,
            "locale": "de", "secret": _code(self.rng, 16).lower(), "datetime": placed,
            "expires": placed + timedelta(days=3), "total": 0, "comment": "", "checkin_attention": False,
            "expiry_reminder_sent": False, "download_reminder_sent": False, "meta_info": "{}",
            "api_meta": "{}", "last_modified": placed + timedelta(minutes=3), "require_approval": False,
            "email_known_to_work": False, "invoice_dirty": False, "sales_channel_id": self.web[organizer],
            "cancellation_date": placed + timedelta(days=1) if status == "c" else None,
            "valid_if_pending": False, "event_id": event, "organizer_id": organizer})

    def position(self, organizer: int, order: int, positionid: int, item: int, slot: int, given: str, family: str,
                 email: str | None, canceled: bool = False) -> int:
        return self.insert("pretixbase_orderposition", {
            "positionid": positionid, "price": 0, "attendee_name_cached": f"{given} {family}",
            "attendee_name_parts": json.dumps({"_scheme": "given_family", "given_name": given,
                                               "family_name": family}, ensure_ascii=False),
            "attendee_email": email, "tax_rate": 0, "tax_value": 0, "secret": _code(self.rng, 32).lower(),
            "web_secret": _code(self.rng, 32).lower(), "pseudonymization_id": _code(self.rng, 10),
            "meta_info": None, "canceled": canceled, "is_bundled": False, "ignore_from_quota_while_blocked": False,
            "item_id": item, "order_id": order, "subevent_id": slot, "organizer_id": organizer})

    def addon(self, organizer: int, order: int, positionid: int, item: int, slot: int, to: int) -> int:
        """An add-on position (pretix's ``OrderPosition.addon_to``): a product booked with the
        position ``to`` of the same order, in its slot, naming nobody (``attendee_name_parts``
        an empty object, as pretix keeps it)."""
        return self.insert("pretixbase_orderposition", {
            "positionid": positionid, "price": 5, "attendee_name_cached": None, "attendee_name_parts": "{}",
            "attendee_email": None, "tax_rate": 0, "tax_value": 0, "secret": _code(self.rng, 32).lower(),
            "web_secret": _code(self.rng, 32).lower(), "pseudonymization_id": _code(self.rng, 10),
            "meta_info": None, "canceled": False, "is_bundled": False, "ignore_from_quota_while_blocked": False,
            "addon_to_id": to, "item_id": item, "order_id": order, "subevent_id": slot, "organizer_id": organizer})


def _email(given: str, family: str, n: int) -> str:
    plain = (f"{given}.{family}{n}".lower().replace("ü", "ue").replace("ö", "oe").replace("ä", "ae")
             .replace("ß", "ss"))
    return f"{plain}@mail.example"


STATUS = {"n": "pending", "p": "booked", "e": "cancelled", "c": "cancelled"}


def build(connection: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
    """The schema from the fixture, filled; per visit ahead (a position, keyed by its id) every
    field the store must hold."""
    real.run_ddl(connection, FIXTURE)
    rng = random.Random(6521)
    clinic = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    db = _Db(connection, now, rng)
    organizer = db.organizer("Impfzentrum Landkreis Musterstadt", "impfen-lk")
    db.insert("pretixbase_organizer_settingsstore", {"key": "contact_mail", "value": "impfen@lk-musterstadt.example",
                                                     "object_id": organizer})
    today = now.astimezone(clinic).date()
    old = db.event(organizer, {"de": "Schnelltest", "en": "Rapid test"}, "schnelltest",
                   datetime(today.year - 1, 3, 1, 8, tzinfo=clinic), False,
                   {"timezone": ZONE, "locale": "de", "locales": '["de"]'})
    db.item(old, {"de": "Antigen-Schnelltest"}, 0)
    event = db.event(organizer, EVENT_NAME, "impfung", datetime(today.year, today.month, today.day, 8, tzinfo=clinic),
                     True, {"timezone": ZONE, "locale": "de", "locales": '["de", "en"]', "payment_term_days": "3",
                            "attendee_names_asked": "True", "attendee_emails_asked": "True",
                            "order_phone_asked": "True", "order_phone_required": "True", "show_times": "True",
                            "contact_mail": "impfen@lk-musterstadt.example"})
    items = [db.item(event, name, n) for n, name in enumerate(PRODUCTS)]
    parking = db.item(event, PARKING, len(PRODUCTS), admission=False)
    slots = []
    for s in range(-PAST_SLOTS, SLOTS):
        # ahead from tomorrow; past from the day before yesterday: a window that starts at the
        # database's date (UTC) still holds yesterday's slots in the hour after midnight in Berlin
        day = today + timedelta(days=(s // 8) + (1 if s >= 0 else -1))
        start = datetime(day.year, day.month, day.day, 8 + (s % 8), 30 if s % 3 == 1 else 0, tzinfo=clinic)
        site = SITES[(s // 8) % 2]
        slots.append((db.slot(event, EVENT_NAME, start, 30, site), start, site, s >= 0))
    truth: dict[str, dict[str, Any]] = {}
    person = 0
    for n in range(110):
        slot, start, site, ahead = slots[n % len(slots)] if n < 104 else slots[PAST_SLOTS + n % SLOTS]
        status = "c" if n % 23 == 7 else "e" if n % 29 == 11 else "n" if n % 9 == 4 else "p"
        people = 2 if n % 3 == 0 else 1
        named = []
        for _ in range(people):
            named.append((GIVEN[person % len(GIVEN)], FAMILY[(person * 7) % len(FAMILY)], person))
            person += 1
        booker_email = _email(*named[0])
        phone = real.valid_number(rng, "+4915" if n % 2 else "+4930", 14 if n % 2 else 13)
        order = db.order(organizer, event, status, booker_email, phone if n % 11 != 10 else None,
                         now - timedelta(days=5 + n % 9, hours=n % 7))
        positions = []
        for p, (given, family, k) in enumerate(named):
            email = None if p and k % 2 else booker_email if p == 0 else _email(given, family, k)
            canceled = p == 1 and n % 15 == 6
            position = db.position(organizer, order, p + 1, items[(n + p) % 3], slot, given, family, email,
                                   canceled)
            positions.append(position)
            if not ahead:
                continue
            truth[str(position)] = {
                "start": _utc(start), "end": _utc(start + timedelta(minutes=30)), "zone": ZONE,
                "name": f"{given} {family}", "phone": phone if n % 11 != 10 else None,
                "email": email or booker_email,
                "status": "cancelled" if canceled else STATUS[status],
                "doctor_name": EVENT_NAME["de"], "location": site["de"], "type": PRODUCTS[(n + p) % 3]["de"]}
        if n % 6 == 1 or n % 12 == 3:  # a parking space with the first ticket (a family's: the second's)
            db.addon(organizer, order, len(positions) + 1, parking, slot, positions[-1])
    truth.update(_travel(db, organizer, today))
    return truth


def _travel(db: _Db, organizer: int, today: date) -> dict[str, dict[str, Any]]:
    """The travel test centre in London (its own zone in its settings, slots every quarter hour
    from 09:00 London time), one traveller per order, all paid: per position its truth."""
    abroad = ZoneInfo(ABROAD)
    event = db.event(organizer, TRAVEL_NAME, "reisetest-london", datetime(today.year, today.month, today.day, 9,
                                                                          tzinfo=abroad),
                     True, {"timezone": ABROAD, "locale": "de", "locales": '["de", "en"]',
                            "attendee_names_asked": "True", "order_phone_asked": "True"})
    items = [db.item(event, name, n) for n, name in enumerate(TRAVEL_PRODUCTS)]
    truth: dict[str, dict[str, Any]] = {}
    for s in range(12):
        day = today + timedelta(days=2 + s // 6)
        start = datetime(day.year, day.month, day.day, 9 + (s % 6) // 4, 15 * ((s % 6) % 4), tzinfo=abroad)
        slot = db.slot(event, TRAVEL_NAME, start, 15, TRAVEL_SITE)
        given, family = GIVEN[(s * 5) % len(GIVEN)], FAMILY[(s * 3 + 2) % len(FAMILY)]
        email = _email(given, family, 500 + s)
        phone = real.valid_number(db.rng, "+4917", 14)
        order = db.order(organizer, event, "p", email, phone, db.now - timedelta(days=2, hours=s))
        position = db.position(organizer, order, 1, items[s % 2], slot, given, family, email)
        truth[str(position)] = {
            "start": _utc(start), "end": _utc(start + timedelta(minutes=15)), "zone": ABROAD,
            "name": f"{given} {family}", "phone": phone, "email": email, "status": "booked",
            "doctor_name": TRAVEL_NAME["de"], "location": TRAVEL_SITE["de"], "type": TRAVEL_PRODUCTS[s % 2]["de"]}
    return truth
