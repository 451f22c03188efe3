"""The practice-management systems `discover` recognizes by their database schema, each with
the query preset (connectors/sql_presets/) and mapping (mappings/) that read it.

A product is recognized by tables and columns that its own installer creates and that a
hand-written schema is unlikely to have all of (OpenEMR's ``openemr_postcalendar_events``,
Easy!Appointments' ``ea_appointments``); the confidence is the share of those columns found.
Each product also says where its status words live (to list the ones the database really
holds and check each is mapped), whether its rows carry their own zone, how deletes are seen
(the preset's mode: incremental with the delete sweep, or snapshot), the write-back
statement when the schema has one, and where the product keeps the clinic's zone when it keeps
one (Frappe's System Settings, Odoo's users).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from clinicsync.connectors.sql_settings import QueryPreset, load_query_preset


@dataclass(frozen=True)
class Product:
    """One known schema and what `discover` proposes for it."""

    name: str  # the query preset's name (connectors/sql_presets/NAME.yaml)
    label: str  # what the admin knows it as
    signature: Mapping[str, frozenset[str]]  # table -> columns its installer creates (lower case)
    status_table: str  # where the status words are counted
    status_column: str
    zone_column: str | None  # a per-row zone the preset reads, or None: the connector's timezone
    source_note: str  # where the schema was read from
    # The installer's table prefix when the admin may choose another (Easy!Appointments' `ea_`):
    # the schema is then recognized under any prefix, and the preset's query rewritten for it.
    table_prefix: str | None = None
    # Where the product keeps the clinic's zone, when it keeps one: a SELECT whose first row holds it,
    # without a row limit (discover cuts it to one row in the server's dialect) (Frappe:
    # System Settings' time_zone in tabSingles, the zone it writes local times in; Odoo, which
    # writes UTC: its users' zone) and what it is called for the admin. Read when no --timezone is
    # given, before the server's own zone.
    zone_query: str | None = None
    zone_setting: str | None = None

    @property
    def preset(self) -> QueryPreset:
        return load_query_preset(self.name)

    def confidence(self, tables: Mapping[str, set[str]]) -> float:
        """The share of the signature's tables and columns present (0.0 when its first table,
        the appointments, is missing: a product is never guessed from its side tables)."""
        first = next(iter(self.signature))
        if first not in tables:
            return 0.0
        wanted = sum(1 + len(columns) for columns in self.signature.values())
        found = sum((table in tables) + len(columns & tables.get(table, set()))
                    for table, columns in self.signature.items())
        return round(found / wanted, 2)


def _cols(*names: str) -> frozenset[str]:
    return frozenset(names)


# Odoo keeps a zone per user (their contact's tz), none for the company: the one most active users
# have is the clinic's.
_ODOO_USERS_ZONE = ("SELECT p.tz FROM res_users AS u JOIN res_partner AS p ON p.id = u.partner_id "
                    "WHERE u.active AND p.tz IS NOT NULL AND p.tz <> '' GROUP BY p.tz ORDER BY COUNT(*) DESC, p.tz")
_ODOO_ZONE_SETTING = "the time zone most of Odoo's active users have"
_ODOO_SOURCE = "Odoo's calendar and base models (tests/fixtures/catalogue/odoo)"


def _odoo_signature(mobile: bool) -> dict[str, frozenset[str]]:
    """Odoo's calendar tables; its contacts have a mobile column up to Odoo 18, none later."""
    partner = {"id", "name", "email", "phone", "tz", "lang", "write_date"} | ({"mobile"} if mobile else set())
    return {"calendar_event": _cols("id", "name", "user_id", "location", "active", "start", "stop", "allday",
                                    "duration", "write_date"),
            "calendar_event_res_partner_rel": _cols("calendar_event_id", "res_partner_id"),
            "calendar_attendee": _cols("event_id", "partner_id", "state", "write_date"),
            "res_partner": frozenset(partner),
            "res_users": _cols("id", "login", "partner_id", "active", "share")}

PRODUCTS: tuple[Product, ...] = (
    Product(
        "openemr", "OpenEMR",
        {"openemr_postcalendar_events": _cols("pc_eid", "pc_pid", "pc_aid", "pc_catid", "pc_eventdate",
                                              "pc_starttime", "pc_endtime", "pc_duration", "pc_apptstatus",
                                              "pc_facility", "pc_recurrtype"),
         "openemr_postcalendar_categories": _cols("pc_catid", "pc_catname", "pc_cattype"),
         "patient_data": _cols("pid", "fname", "lname", "phone_cell", "email", "language", "hipaa_allowsms",
                               "hipaa_allowemail"),
         "users": _cols("id", "fname", "lname", "email"),
         "facility": _cols("id", "name")},
        "openemr_postcalendar_events", "pc_apptstatus", None,
        "OpenEMR's sql/database.sql (tests/fixtures/third_party/openemr)"),
    Product(
        "easyappointments", "Easy!Appointments 1.5",
        {"ea_appointments": _cols("id", "update_datetime", "book_datetime", "start_datetime", "end_datetime",
                                  "status", "location", "is_unavailability", "id_users_provider",
                                  "id_users_customer", "id_services"),
         "ea_users": _cols("id", "first_name", "last_name", "email", "mobile_number", "phone_number",
                           "language", "timezone"),
         "ea_services": _cols("id", "name", "location")},
        "ea_appointments", "status", "timezone",
        "Easy!Appointments 1.5.2's migrations (tests/fixtures/easyappointments/schema)", table_prefix="ea_"),
    Product(
        "oscar", "OSCAR EMR",
        {"appointment": _cols("appointment_no", "provider_no", "appointment_date", "start_time", "end_time",
                              "demographic_no", "status", "type", "reason", "location"),
         "demographic": _cols("demographic_no", "first_name", "last_name", "phone", "email"),
         "provider": _cols("provider_no", "first_name", "last_name")},
        "appointment", "status", None,
        "scoophealth/oscar database/mysql/oscarinit.sql and oscardata.sql"),
    Product(
        "opendental", "Open Dental",
        {"appointment": _cols("aptnum", "patnum", "aptstatus", "pattern", "aptdatetime", "provnum", "provhyg",
                              "confirmed", "op", "appointmenttypenum", "procdescript", "datetstamp"),
         "patient": _cols("patnum", "lname", "fname", "preferred", "wirelessphone", "hmphone", "wkphone", "email",
                          "txtmsgok", "language", "datetstamp"),
         "provider": _cols("provnum", "abbr", "fname", "lname", "datetstamp"),
         "appointmenttype": _cols("appointmenttypenum", "appointmenttypename"),
         "operatory": _cols("operatorynum", "opname")},
        "appointment", "aptstatus", None,
        "Open Dental's OpenDentBusiness/TableTypes classes (tests/fixtures/ehr/opendental)"),
    Product(
        "erpnext_healthcare", "Frappe Health (ERPNext Healthcare)",
        {"tabpatient appointment": _cols("name", "status", "appointment_date", "appointment_time", "duration",
                                         "patient", "practitioner", "appointment_type", "service_unit", "modified"),
         "tabpatient": _cols("name", "first_name", "last_name", "patient_name", "mobile", "phone", "email",
                             "modified"),
         "tabhealthcare practitioner": _cols("name", "practitioner_name", "first_name", "email_id", "modified")},
        "tabPatient Appointment", "status", None,
        "Frappe Health's doctype JSON (tests/fixtures/catalogue/erpnext)",
        zone_query="SELECT value FROM `tabSingles` WHERE doctype = 'System Settings' AND field = 'time_zone'",
        zone_setting="System Settings' time_zone, in tabSingles"),
    Product("odoo", "Odoo (calendar)", _odoo_signature(mobile=True), "calendar_attendee", "state", None,
            _ODOO_SOURCE, zone_query=_ODOO_USERS_ZONE, zone_setting=_ODOO_ZONE_SETTING),
    Product(  # Odoo versions whose res_partner has no mobile column: the same, phone alone
        "odoo_phone", "Odoo (calendar; contacts without a mobile column)", _odoo_signature(mobile=False),
        "calendar_attendee", "state", None, _ODOO_SOURCE, zone_query=_ODOO_USERS_ZONE,
        zone_setting=_ODOO_ZONE_SETTING),
    Product(
        "clinic_tables", "the three-table patients/doctors/appointments schema",
        {"appointments": _cols("id", "patient_id", "doctor_id", "starts_at", "ends_at", "status", "reason",
                               "location", "updated_at"),
         "patients": _cols("id", "first_name", "last_name", "phone", "email"),
         "doctors": _cols("id", "name", "email")},
        "appointments", "status", None,
        "connectors/sql_presets/clinic_tables.yaml"),
)

# Below this share of its signature a product is not proposed: the schema is read by its shape.
MIN_CONFIDENCE = 0.9


@dataclass(frozen=True)
class Match:
    """A recognized product; ``prefix`` is the table prefix found when it is not the installer's."""

    product: Product
    confidence: float
    prefix: str | None = None

    def table(self, name: str) -> str:
        """A signature table's name in this database."""
        default = self.product.table_prefix or ""
        return name if self.prefix is None else self.prefix + name.removeprefix(default)

    def unread(self, tables: Mapping[str, set[str]]) -> list[str]:
        """The signature's columns this database lacks that the preset's query reads
        (``ea_users.language`` on an Easy!Appointments older than its language column): the
        preset would fail on its first read, so the schema is read by its shape instead."""
        query = self.rewrite(self.product.preset.query).lower()
        out = []
        for name, columns in self.product.signature.items():
            table = self.table(name)
            for column in sorted(columns - tables.get(table, set())):
                if re.search(rf"\.{re.escape(column)}\b", query):
                    out.append(f"{table}.{column}")
        return out

    def rewrite(self, sql: str) -> str:
        """The preset's statement with this database's table names."""
        if self.prefix is None:
            return sql
        for name in self.product.signature:
            sql = re.sub(rf"\b{re.escape(name)}\b", self.table(name), sql)
        return sql


def suffixes() -> frozenset[str]:
    """The table names a prefixed product's tables end with (``appointments`` for ``ea_appointments``)."""
    return frozenset(name.removeprefix(p.table_prefix) for p in PRODUCTS if p.table_prefix for name in p.signature)


def _prefixes(product: Product, tables: Mapping[str, set[str]]) -> set[str]:
    assert product.table_prefix is not None
    first = next(iter(product.signature)).removeprefix(product.table_prefix)
    return {t[: -len(first)] for t in tables if t.endswith(first)} - {product.table_prefix}


def recognize(tables: Mapping[str, set[str]]) -> Match | None:
    """The best-matching known product, or None when none reaches MIN_CONFIDENCE.
    ``tables``: table name -> column names, both lower case."""
    candidates = [Match(p, p.confidence(tables)) for p in PRODUCTS]
    for product in PRODUCTS:
        if product.table_prefix is None:
            continue
        for prefix in _prefixes(product, tables):
            renamed = {product.table_prefix + t.removeprefix(prefix): cols for t, cols in tables.items()
                       if t.startswith(prefix)}
            candidates.append(Match(product, product.confidence(renamed), prefix))
    best = max(candidates, key=lambda m: (m.confidence, m.prefix is None))
    return best if best.confidence >= MIN_CONFIDENCE else None
