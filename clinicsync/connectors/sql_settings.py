"""Settings of the `sql` connector and its query presets (connectors/sql_presets/*.yaml).

The query itself is checked when the connector runs (``clinicsync check`` and every
sync), so that a refused statement is reported with the connector's name and the
reason, and never executed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from clinicsync.common.db_urls import driver_url
from clinicsync.common.schedule import Schedule
from clinicsync.common.settings_base import SettingsModel
from clinicsync.common.timeutil import TimeError, zone
from clinicsync.connectors.base import (
    SOURCE_ZONE_HELP,
    STORED_TIMES_HELP,
    ConnectorSettings,
    StoredTimes,
    delete_sweep_value,
    min_delete_stop_field,
    source_zone,
)
from clinicsync.connectors.sql_series import SeriesColumns
from clinicsync.connectors.window import LookWindow

PRESETS_DIR = Path(__file__).parent / "sql_presets"


class QueryPreset(BaseModel):
    """A ready query for a known practice-management schema, with what goes with it.

    ``defer_build``: its validator is compiled when a preset is first read, not on every start
    that reads a SQL source (most name their own query): ~2 M instructions."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    description: str
    mapping: str
    mode: Literal["incremental", "snapshot"]
    cursor_column: str | None = None
    query: str
    writeback_statement: str | None = None
    # How the product writes naive date-times (a connector's stored_times: default): Odoo keeps UTC.
    stored_times: StoredTimes = "local"


@cache
def load_query_preset(name: str) -> QueryPreset:
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
        raise ValueError(f"unknown query preset {name!r}; known: {known}")
    return QueryPreset.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def _url(value: str) -> str:
    try:
        make_url(value)
    except ArgumentError:
        raise ValueError("not a database URL (e.g. mysql://user@host/openemr or "
                         "postgresql://user@host/db)") from None
    return value


def engine_url(url: str, password: SecretStr | None) -> URL:
    """The URL with our default drivers and the password from ``password``/``password_file``."""
    parsed = driver_url(url)
    return parsed.set(password=password.get_secret_value()) if password is not None else parsed


def safe_url(url: str) -> str:
    """The URL for messages: never the password."""
    return driver_url(url).render_as_string(hide_password=True)


class WindowSettings(LookWindow):
    """The :window_start/:window_end binds: now - back … now + ahead, as naive wall-clock
    date-times in ``timezone`` (the zone the source stores local times in)."""

    back: str = Field("1d", description="how far back the window starts, e.g. 1d or 12h")
    ahead: str = Field("180d", description="how far ahead the window ends, e.g. 180d")
    timezone: str = Field("UTC", description="IANA zone of the source's wall-clock times")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zone(value)
        except TimeError as exc:
            raise ValueError(str(exc)) from None
        return value


class SqlWritebackSettings(SettingsModel):
    """A parameterized UPDATE run with its own, write-enabled credential."""

    url: str = Field(description="SQLAlchemy URL of a login allowed to run the UPDATE (and nothing more)")
    password: SecretStr | None = Field(None, description="or password_file:, or ${ENV} inside url")
    statement: str | None = Field(
        None, description="one UPDATE with binds :status :external_id (:participant_status "
                          ":appointment_status :patient_ref); the query preset's when unset")
    status_map: dict[str, str] = Field(
        default_factory=dict, description="answer -> source value, e.g. {accepted: SMS, cancelled: x}; keys are "
                                          "appointment statuses (tried first) or participant statuses (needed "
                                          "with statement)")
    timeout: float = Field(10.0, gt=0, le=300, description="seconds, for the UPDATE and its lock waits")
    waitlist_book_statement: str | None = Field(
        None, description="books an accepted waitlist offer (docs/waitlist.md): one INSERT (or UPDATE … WHERE) "
                          "with binds :patient_id :doctor_id :location :type :mode :start_local :end_local "
                          ":start_utc :end_utc :timezone :slot_id :entry_id; make it idempotent on :slot_id")

    url_is_valid = field_validator("url")(_url)


DEFAULT_SWEEP = Schedule(interval="1h")


class SqlSettings(ConnectorSettings):
    kind: Literal["sql"] = "sql"
    url: str = Field(description="SQLAlchemy URL of a read-only login; password via ${ENV} or password_file")
    password: SecretStr | None = Field(None, description="the login's password, if not in url")
    query_preset: str | None = Field(None, description="a ready query: openemr, easyappointments, oscar, "
                                                              "clinic_tables (`clinicsync discover` picks one)")
    query: str | None = Field(
        None, description="one SELECT/WITH; binds :cursor :window_start :window_end are available")
    table: str | None = Field(None, description="instead of query: a table (schema.table) to read")
    columns: list[str] | None = Field(None, min_length=1, description="with table: the columns (default all)")
    json_columns: list[str] = Field(
        default_factory=list, description="columns whose text holds a JSON object (a booking form's answers): "
                                          "read as that object, so a mapping path walks into it "
                                          "(`customer_information.Phone`)")
    ical_columns: list[str] = Field(
        default_factory=list, description="columns whose text (or blob) holds a whole iCalendar object, as a "
                                          "CalDAV server keeps an event: read into plain fields a mapping path "
                                          "names (`calendardata.dtstart`, `.attendee_email`; docs/connectors/sql.md)")
    series: SeriesColumns | None = Field(
        None, description="a recurring series kept as one row with its RRULE text: each occurrence inside the "
                          "window read as a record (docs/connectors/sql.md)")
    mode: Literal["incremental", "snapshot"] = Field(
        "incremental", description="incremental: rows whose cursor_column moved on; snapshot: the whole "
                                   "window every run, what disappeared is deleted")
    cursor_column: str | None = Field(None, description="incremental: an updated-at or increasing id column")
    initial_cursor: str | int | None = Field(
        None, description="value bound to :cursor on the first run when the query uses :cursor itself")
    overlap_seconds: float = Field(
        60, ge=0, le=86_400, description="incremental: re-read this much before the cursor (rows committed late, "
                                         "the hour repeated when clocks go back); what was stored is recognized")
    fetch_size: int = Field(1000, ge=1, le=100_000, description="rows per batch (server-side cursor)")
    timeout: float = Field(
        300.0, gt=0, le=86_400, description="statement timeout in seconds (PostgreSQL: per fetch; "
                                            "MySQL/MariaDB: the whole streamed read)")
    timezone: str | None = Field(None, description=SOURCE_ZONE_HELP)
    stored_times: StoredTimes = Field("local", description=STORED_TIMES_HELP)
    window: WindowSettings = WindowSettings()
    max_delete_share: float = Field(
        0.2, ge=0, le=1, description="safety stop of snapshot mode and of the delete sweep: when a larger share "
                                     "of the window's future appointments would be deleted, nothing is")
    min_delete_stop: int = min_delete_stop_field()
    delete_sweep: Schedule | None = Field(
        DEFAULT_SWEEP, description="incremental mode: how often to list the window's ids (the id column only) "
                                   "and delete what vanished from the source: `every 1h` (default), "
                                   "{cron: '0 * * * *'} or `off`")
    writeback: SqlWritebackSettings | None = None

    url_is_valid = field_validator("url")(_url)
    zone_is_valid = field_validator("timezone")(source_zone)
    sweep_is_valid = field_validator("delete_sweep", mode="before")(delete_sweep_value)

    @property
    def window_zone(self) -> str:
        """The zone of the window binds as the settings alone say it: ``window.timezone`` when
        given, else the zone the source writes naive date-times in (UTC for ``stored_times:
        utc``, else its ``timezone:``). The connector reads clinic.timezone where this says UTC
        for want of a ``timezone:`` (``SqlConnector._window_clock``)."""
        if "timezone" in self.window.model_fields_set:
            return self.window.timezone
        if self.stored_times == "utc":
            return "UTC"
        return self.timezone or self.window.timezone

    @model_validator(mode="before")
    @classmethod
    def _preset_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("query_preset"):
            return data
        preset = load_query_preset(str(data["query_preset"]))
        out = dict(data)
        out.setdefault("mapping", preset.mapping)
        out.setdefault("mode", preset.mode)
        if preset.cursor_column:
            out.setdefault("cursor_column", preset.cursor_column)
        if preset.stored_times != "local":
            out.setdefault("stored_times", preset.stored_times)
        return out

    @model_validator(mode="after")
    def _consistent(self) -> SqlSettings:
        sources = [k for k in ("query_preset", "query", "table") if getattr(self, k)]
        if len(sources) != 1:
            raise ValueError("give exactly one of query_preset, query or table"
                             + (f" (found {' and '.join(sources)})" if sources else ""))
        if self.columns is not None and not self.table:
            raise ValueError("columns go with table")
        self._check_ical_columns()
        if self.series is not None and self.mode != "snapshot":
            raise ValueError("series goes with mode snapshot: a series row changes rarely, its next occurrences "
                             "come into the window as it moves on, so the window is read whole every run")
        if self.mode == "incremental" and not self.cursor_column:
            raise ValueError("mode incremental needs cursor_column (an updated-at or increasing id column); "
                             "for a schema without one use mode: snapshot")
        if self.mode == "snapshot" and self.initial_cursor is not None:
            raise ValueError("initial_cursor goes with mode incremental")
        if self.mode == "snapshot" and "overlap_seconds" in self.model_fields_set:
            raise ValueError("overlap_seconds goes with mode incremental (a snapshot reads the whole window every "
                             "run)")
        if self.mode == "snapshot" and "delete_sweep" in self.model_fields_set and self.delete_sweep is not None:
            raise ValueError("delete_sweep goes with mode incremental (a snapshot reads the whole window every "
                             "run and deletes what vanished already)")
        if self.password is not None and make_url(self.url).password:
            raise ValueError("give the password in url or in password/password_file, not both")
        if self.writeback is not None:
            answers = self.writeback.statement or self._preset_writeback()
            if not (answers or self.writeback.waitlist_book_statement):
                raise ValueError("writeback needs statement (an UPDATE)")
            if answers and not self.writeback.status_map:
                raise ValueError("writeback.status_map is needed with the write-back statement, e.g. "
                                 "{accepted: SMS, cancelled: x}")
        return self

    def _check_ical_columns(self) -> None:
        """Each of ``ical_columns`` a column name, read one way: never also as JSON, and among
        ``columns`` when the table's columns are listed."""
        for name in self.ical_columns:
            if not name.strip():
                raise ValueError("ical_columns: an empty column name")
        twice = sorted(set(self.ical_columns) & set(self.json_columns))
        if twice:
            raise ValueError(f"ical_columns: {', '.join(twice)} also in json_columns (a column's text is read one way)")
        if self.columns is not None:
            missing = sorted(set(self.ical_columns) - set(self.columns))
            if missing:
                raise ValueError(f"ical_columns: {', '.join(missing)} not among columns")

    def _preset_writeback(self) -> str | None:
        return load_query_preset(self.query_preset).writeback_statement if self.query_preset else None

    @property
    def preset(self) -> QueryPreset | None:
        return load_query_preset(self.query_preset) if self.query_preset else None

    @property
    def writeback_statement(self) -> str | None:
        if self.writeback is None:
            return None
        return self.writeback.statement or self._preset_writeback()

    @property
    def waitlist_book_statement(self) -> str | None:
        return self.writeback.waitlist_book_statement if self.writeback is not None else None
