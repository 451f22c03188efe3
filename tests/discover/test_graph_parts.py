"""The parts discover v2 builds its read from (issue 57), on table descriptions: references
implied by names, soft-delete conditions for each column type, the change stamp's NULL
handling, the name columns of a names table, and type codes that may enter the SQL."""

from __future__ import annotations

from clinicsync.sync.discover import softdelete, stamps
from clinicsync.sync.discover.contacts.contactrows import code_literal as _literal
from clinicsync.sync.discover.graph import Schema, Table
from clinicsync.sync.discover.people import audit, kind_of, name_columns
from clinicsync.sync.ingest.plausibility.soft_deleted import watched


def _table(name: str, columns: dict[str, str], key: str | None = "id",
           references: list[tuple[str, str, str]] | None = None) -> Table:
    return Table(name, columns, [key] if key else [], references or [])


def test_references_are_read_from_names_both_ways() -> None:
    schema = Schema({t.name: t for t in (
        _table("person", {"person_id": "INTEGER", "gender": "VARCHAR(1)"}, "person_id"),
        _table("parties", {"id": "INTEGER"}),
        _table("person_attribute", {"person_attribute_id": "INTEGER", "person_id": "INTEGER",
                                    "party_id": "INTEGER", "value": "VARCHAR(50)"}, "person_attribute_id"),
    )})
    refs = {(r.column, r.target, r.target_column, r.declared) for r in schema.refs("person_attribute")}
    assert refs == {("person_id", "person", "person_id", False), ("party_id", "parties", "id", False)}
    assert [r.table for r in schema.children("person")] == ["person_attribute"]
    tryton = Schema({t.name: t for t in (
        _table("party", {"id": "INTEGER", "name": "VARCHAR"}),
        _table("appointment", {"id": "INTEGER", "party": "INTEGER", "state": "VARCHAR", "name": "VARCHAR"}))})
    assert [(r.column, r.target) for r in tryton.refs("appointment")] == [("party", "party")]
    assert schema.find("PERSON") is schema.tables["person"]


def test_soft_delete_conditions_fit_each_type() -> None:
    pg = _table("t", {"voided": "BOOLEAN", "x": "INTEGER"})
    maria = _table("t", {"voided": "TINYINT(1)"})
    alive = _table("t", {"active": "BOOLEAN"})
    alive_int = _table("t", {"is_active": "SMALLINT"})
    dated = _table("t", {"deleted_at": "TIMESTAMP"})
    cases = [(pg, "postgresql", "a.voided IS NOT TRUE"), (maria, "mariadb", "COALESCE(a.voided, 0) = 0"),
             (alive, "postgresql", "a.active IS NOT FALSE"), (alive_int, "postgresql", "COALESCE(a.is_active, 1) <> 0"),
             (dated, "mariadb", "a.deleted_at IS NULL")]
    for table, dialect, condition in cases:
        found = softdelete.flag(table, dialect)
        assert found is not None and softdelete.kept(found, "a", found.column) == condition
    stamped = softdelete.flag(_table("t", {"date_voided": "DATETIME", "status": "TEXT"}), "mariadb")
    assert stamped is not None and softdelete.kept(stamped, "a", "date_voided") == "a.date_voided IS NULL"
    assert softdelete.flag(_table("t", {"date_voided": "TEXT", "status": "TEXT"}), "mariadb") is None  # no date


def test_discover_and_check_read_the_same_names_as_deleted() -> None:
    """`discover` writes a condition for each column `check` would call a deletion, and no
    other: the two read one vocabulary (clinicsync/common/soft_delete.py)."""
    flags = ["voided", "is_deleted", "isdeleted", "del_flag", "retired", "archived", "trashed", "anulado", "borrada",
             "eliminado", "active", "is_active", "isactive", "enabled", "vigente"]
    stamps = ["deleted_at", "date_deleted", "deleted_on", "deletion_date", "voided_at", "date_voided", "removed_at",
              "retired_at", "date_retired", "archived_at", "trashed_at"]
    others = ["status", "voided_by", "deleted_by", "date_created", "activity", "is_preferred", "void_reason"]
    for name in flags + stamps + others:
        kind = "DATETIME" if name in stamps else "TINYINT(1)"
        found = softdelete.flag(_table("t", {name: kind}), "mariadb")
        checked = watched((name,))
        assert (found is not None) == bool(checked) == (name not in others), name
        assert found is None or found.meaning == {"flag": "gone", "stamp": "gone_at", "active": "alive"}[checked[0][1]]


def test_the_change_stamp_is_never_null_where_the_row_was_created() -> None:
    table = _table("a", {"date_created": "DATETIME", "date_changed": "DATETIME", "date_voided": "DATETIME",
                         "start": "DATETIME"})
    assert stamps.stamp_columns(table) == ["date_changed", "date_voided", "date_created"]
    row = stamps.row_stamp(table, "a", str)
    assert row == "GREATEST(COALESCE(a.date_changed, a.date_created), COALESCE(a.date_voided, a.date_created))"
    assert stamps.combined("a.x", ["p.y"], "mariadb") == \
        "GREATEST(a.x, COALESCE(p.y, TIMESTAMP '1970-01-01 00:00:00'))"
    assert stamps.combined("a.x", ["p.y"], "sqlite") == "MAX(a.x, COALESCE(p.y, '1970-01-01 00:00:00'))"
    assert stamps.is_change("write_date") and not stamps.is_change("create_date")


def test_a_names_table_gives_given_and_family_not_prefixes() -> None:
    names = _table("person_name", {"person_name_id": "INT", "prefix": "VARCHAR(50)", "given_name": "VARCHAR(50)",
                                   "middle_name": "VARCHAR(50)", "family_name_prefix": "VARCHAR(50)",
                                   "family_name": "VARCHAR(50)", "family_name2": "VARCHAR(50)"}, "person_name_id")
    assert name_columns(names) == (["given_name", "family_name"], "parts")
    party = _table("party_party", {"id": "INT", "name": "VARCHAR", "lastname": "VARCHAR"})
    assert name_columns(party) == (["name", "lastname"], "parts")
    assert name_columns(_table("users", {"id": "INT", "username": "VARCHAR"})) == ([], "")


def test_who_entered_a_row_and_what_a_name_says() -> None:
    assert all(audit(c) for c in ("creator", "created_by", "changed_by", "voided_by", "create_uid", "write_uid"))
    assert not any(audit(c) for c in ("patient_id", "person_id", "party", "provider_id"))
    assert (kind_of("patient_appointment_provider"), kind_of("gnuhealth_patient"), kind_of("party_party"),
            kind_of("healthprof")) == ("provider", "patient", "person", "provider")


def test_only_plain_type_codes_enter_the_query() -> None:
    assert (_literal(10), _literal("mobile"), _literal("Telephone Number")) == ("10", "'mobile'", "'Telephone Number'")
    assert _literal("x' OR '1'='1") is None and _literal("a\\b") is None and _literal(True) is None
    assert _literal("tel:home") is None  # ":home" would be a bind parameter


def test_the_appointment_table_wins_over_encounters_and_visits() -> None:
    """OpenMRS keeps encounters and visits beside Bahmni's appointments, each with dates and a
    patient: the booking-named table with a status is the appointment one."""
    from clinicsync.sync.discover.tablechoice import pick_table

    person = {"patient": _table("patient", {"patient_id": "INT"}, "patient_id"),
              "provider": _table("provider", {"provider_id": "INT"}, "provider_id")}
    dated = {"patient_id": "INT", "provider_id": "INT", "date_created": "DATETIME", "date_changed": "DATETIME"}
    schema = Schema({**person,
                     "encounter": _table("encounter", {"encounter_id": "INT", "encounter_datetime": "DATETIME",
                                                       **dated}, "encounter_id"),
                     "visit": _table("visit", {"visit_id": "INT", "date_started": "DATETIME", **dated}, "visit_id"),
                     "patient_appointment": _table("patient_appointment", {
                         "patient_appointment_id": "INT", "start_date_time": "DATETIME", "status": "VARCHAR(45)",
                         **dated}, "patient_appointment_id")})
    assert pick_table(schema, None).name == "patient_appointment"


def test_a_column_named_as_one_tables_key_refers_to_it() -> None:
    """NOSH (Laravel) declares no foreign key: ``schedule.pid`` is ``demographics.pid`` by name. A
    key name two tables share says nothing, nor does a lookup's ``code`` or the ubiquitous ``id``."""
    schema = Schema({t.name: t for t in (
        _table("demographics", {"pid": "BIGINT UNSIGNED", "lastname": "VARCHAR(100)"}, "pid"),
        _table("schedule", {"appt_id": "INTEGER", "pid": "INTEGER", "code": "VARCHAR(10)", "room_id": "INTEGER",
                            "start": "INTEGER"}, "appt_id"),
        _table("codes", {"code": "VARCHAR(10)", "label": "VARCHAR"}, "code"),
        _table("rooms", {"room_id": "INTEGER"}, "room_id"),
        _table("rooms_archive", {"room_id": "INTEGER"}, "room_id"),
    )})
    refs = {(r.column, r.target, r.target_column, r.declared) for r in schema.refs("schedule")}
    assert ("pid", "demographics", "pid", False) in refs
    assert not any(column in ("code", "start") for column, *_ in refs)
    # room_id: two tables have it as their key; only the stem's table (room_id -> rooms) is meant
    assert ("room_id", "rooms_archive", "room_id", False) not in refs
    assert [r.table for r in schema.children("demographics")] == ["schedule"]


def test_a_tables_column_prefix_is_read_past_only_where_it_hides_known_words() -> None:
    """FreeMED prefixes every column with its table's mark; ordinary names share no such prefix,
    and OpenEMR's `pc_` (already split at its underscore) needs none taken off."""
    from clinicsync.sync.discover.vocab import table_prefix, without_prefixes

    scheduler = ["caldateof", "calcreated", "calhour", "calminute", "calduration", "calphysician", "calpatient",
                 "calstatus", "calprenote", "id"]
    assert table_prefix(scheduler) == "cal"
    assert table_prefix(["ptlname", "ptfname", "pthphone", "ptwphone", "ptemail", "ptdob", "id"]) == "pt"
    assert table_prefix(["patient_id", "patient_name", "patient_phone", "status", "start_at"]) == ""
    assert table_prefix(["pc_eid", "pc_pid", "pc_aid", "pc_eventDate", "pc_startTime", "pc_duration"]) == ""
    assert without_prefixes(["calpatient", "cal", "status"], ["cal"]) == ["patient", "cal", "status"]
    schema = Schema({t.name: t for t in (
        _table("patient", {"ptlname": "VARCHAR(50)", "ptfname": "VARCHAR(50)", "pthphone": "VARCHAR(16)",
                           "ptwphone": "VARCHAR(16)", "ptemail": "VARCHAR(80)", "id": "INT UNSIGNED"}),
        _table("scheduler", {c: "INT UNSIGNED" for c in scheduler}),
    )})
    assert [(r.column, r.target) for r in schema.refs("scheduler")] == [("calpatient", "patient")]
    assert name_columns(schema.tables["patient"]) == (["ptfname", "ptlname"], "parts")
