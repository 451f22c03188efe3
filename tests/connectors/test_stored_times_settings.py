"""`stored_times:` on the connectors that have `timezone:` (issue 57): the key, its values,
and the SQL connector's clock (window binds, the cursor overlap's repeated hour) for a source
that stores UTC."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from clinicsync.connectors.csv_drop import CsvDropSettings
from clinicsync.connectors.easyappointments import EasyAppointmentsSettings
from clinicsync.connectors.sql import SqlConnector
from clinicsync.connectors.sql_settings import SqlSettings

SQL: dict[str, Any] = {"name": "src", "mapping": "m", "url": "sqlite://", "table": "t", "mode": "incremental",
                       "cursor_column": "updated_at"}


def test_the_key_defaults_to_local_on_every_connector_with_a_timezone(tmp_path: Any) -> None:
    assert SqlSettings(**SQL).stored_times == "local"
    assert CsvDropSettings(name="d", mapping="csv_default", drop_dir=tmp_path).stored_times == "local"
    assert EasyAppointmentsSettings(name="e", token="x" * 32).stored_times == "local"
    assert SqlSettings(**SQL, stored_times="utc").stored_times == "utc"


def test_another_value_is_refused_naming_the_key() -> None:
    with pytest.raises(ValidationError, match="stored_times"):
        SqlSettings(**SQL, stored_times="gmt")


def test_the_window_of_a_utc_source_is_in_utc_unless_set() -> None:
    assert SqlSettings(**SQL, timezone="America/Chicago", stored_times="utc").window_zone == "UTC"
    assert SqlSettings(**SQL, timezone="America/Chicago").window_zone == "America/Chicago"
    assert SqlSettings(**SQL, timezone="America/Chicago", stored_times="utc",
                       window={"timezone": "Europe/Berlin"}).window_zone == "Europe/Berlin"


@pytest.mark.parametrize("clock", ["connector", "sync"])
def test_a_utc_cursor_has_no_repeated_hour(clock: str) -> None:
    """01:30 on 2026-11-01 is in the hour Chicago repeats: a local cursor re-reads that hour
    too; a UTC one only the overlap. ``sync``: the zone sync/ hands the connector (UTC for a
    utc source); ``connector``: none handed, the settings decide."""
    wall = datetime(2026, 11, 1, 1, 30)
    local = SqlConnector(SqlSettings(**SQL, timezone="America/Chicago"))
    utc = SqlConnector(SqlSettings(**SQL, timezone="America/Chicago", stored_times="utc"))
    if clock == "sync":
        local.source_zone, utc.source_zone = "America/Chicago", "UTC"
    assert local._overlap_start(wall) == wall - timedelta(seconds=60) - timedelta(hours=1)
    assert utc._overlap_start(wall) == wall - timedelta(seconds=60)


def test_a_query_preset_of_a_product_that_keeps_utc_sets_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalogue's presets say their product's convention (Odoo keeps UTC): a connector
    naming the preset gets it unless it says otherwise."""
    from clinicsync.connectors import sql_settings

    real = sql_settings.load_query_preset("clinic_tables")
    monkeypatch.setattr(sql_settings, "load_query_preset",
                        lambda name: real.model_copy(update={"stored_times": "utc"}))
    preset: dict[str, Any] = {"name": "src", "url": "sqlite://", "query_preset": "clinic_tables"}
    assert SqlSettings(**preset).stored_times == "utc"
    assert SqlSettings(**preset, stored_times="local").stored_times == "local"
    assert real.stored_times == "local"
