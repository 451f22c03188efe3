"""The practice-management systems `discover` recognizes by their database schema, each with
the query preset (connectors/sql_presets/) and mapping (mappings/) that read it.

A product is recognized by tables and columns that its own installer creates and that a
hand-written schema is unlikely to have all of (OpenEMR's ``openemr_postcalendar_events``,
Easy!Appointments' ``ea_appointments``); the confidence is the share of those columns found.
Each product also says where its status words live (to list the ones the database really
holds and check each is mapped), whether its rows carry their own zone, how deletes are seen
(the preset's mode: incremental with the delete sweep, or snapshot) and the write-back
statement when the schema has one.
"""

from __future__ import annotations

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
        "Easy!Appointments 1.5.2's migrations (tests/fixtures/easyappointments/schema)"),
    Product(
        "oscar", "OSCAR EMR",
        {"appointment": _cols("appointment_no", "provider_no", "appointment_date", "start_time", "end_time",
                              "demographic_no", "status", "type", "reason", "location"),
         "demographic": _cols("demographic_no", "first_name", "last_name", "phone", "email"),
         "provider": _cols("provider_no", "first_name", "last_name")},
        "appointment", "status", None,
        "scoophealth/oscar database/mysql/oscarinit.sql and oscardata.sql"),
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


def recognize(tables: Mapping[str, set[str]]) -> tuple[Product, float] | None:
    """The best-matching known product and its confidence, or None when none reaches
    MIN_CONFIDENCE. ``tables``: table name -> column names, both lower case."""
    scored = sorted(((p.confidence(tables), p) for p in PRODUCTS), key=lambda pair: -pair[0])
    best_score, best = scored[0]
    return (best, best_score) if best_score >= MIN_CONFIDENCE else None
