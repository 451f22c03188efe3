"""Which product a schema is, from its tables and columns alone: each product's own signature is
recognized with full confidence, a version missing a column or two still is, and a schema
that only shares a table name with one is not (it is read by its shape instead)."""

from __future__ import annotations

import pytest

from clinicsync.connectors.sql_settings import load_query_preset
from clinicsync.mappings.engine import load_mapping
from clinicsync.sync.discover.products import PRODUCTS, recognize


def tables_of(name: str) -> dict[str, set[str]]:
    product = next(p for p in PRODUCTS if p.name == name)
    return {table: set(columns) for table, columns in product.signature.items()}


@pytest.mark.parametrize("name", [p.name for p in PRODUCTS])
def test_each_product_is_itself_and_ships_its_preset(name: str) -> None:
    schema = {**tables_of(name), "some_other_table": {"id", "created"}}
    found = recognize(schema)
    assert found is not None and (found.product.name, found.confidence, found.prefix) == (name, 1.0, None)
    preset = load_query_preset(name)
    load_mapping(preset.mapping, "UTC", "US")  # the preset's mapping compiles


def test_an_older_version_missing_a_column_is_still_recognized() -> None:
    schema = tables_of("openemr")
    schema["openemr_postcalendar_events"].discard("pc_recurrtype")
    found = recognize(schema)
    assert found is not None and found.product.name == "openemr" and 0.9 <= found.confidence < 1.0


def test_a_shared_table_name_is_not_a_product() -> None:
    # A clinic's own `appointments` table with other columns: not the three-table preset.
    schema = {"appointments": {"id", "patient", "fecha", "estado"}, "patients": {"id", "nombre"}}
    assert recognize(schema) is None
    # OSCAR's side tables without its appointment table: never a product.
    assert recognize({k: v for k, v in tables_of("oscar").items() if k != "appointment"}) is None


def test_easyappointments_under_another_table_prefix() -> None:
    schema = {"sched_" + t.removeprefix("ea_"): cols for t, cols in tables_of("easyappointments").items()}
    found = recognize(schema)
    assert found is not None and (found.product.name, found.confidence, found.prefix) == (
        "easyappointments", 1.0, "sched_")
    query = found.rewrite(found.product.preset.query)
    assert "FROM sched_appointments AS a" in query and "LEFT JOIN sched_users AS c" in query
    assert "ea_" not in query
    # No prefix at all is a prefix too; the installer's own is not rewritten.
    bare = recognize({t.removeprefix("ea_"): cols for t, cols in tables_of("easyappointments").items()})
    assert bare is not None and bare.prefix == ""
    own = recognize(tables_of("easyappointments"))
    assert own is not None and own.prefix is None and own.rewrite("FROM ea_users") == "FROM ea_users"
