"""`discover` for a database: read its schema and a few rows, read-only, and propose the `sql`
connector and mapping that import its appointments.

Everything runs inside the connector's own read-only transaction with a statement timeout
(connectors/sql_session.py), and every statement built here passes the connector's parsed
SELECT guard (connectors/sql_guard.py) before it is sent: discovery can read, never write.
Samples are bounded (``sample_rows`` rows, ``MAX_TABLES`` tables, ``MAX_WORDS`` status words).

A known product (sync/discover/products.py) gets its query preset, with the status words
the database really holds checked against the preset's mapping (a site's own word is added
to the proposed mapping when its meaning is known, listed as unknown otherwise). Any other
schema is read by its shape: the appointment-like table (date columns, references to
person-like tables), joined with the tables it refers to, sampled, and placed on the
mapping's fields by ``score_columns``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from clinicsync.common.db_urls import driver_url
from clinicsync.common.timeutil import TimeError, zone
from clinicsync.common.vocabulary import STATUS_SYNONYMS, STATUSES, status_key
from clinicsync.connectors.base import STORED_TIMES
from clinicsync.connectors.sql_guard import StatementRefused, check_select, sqlglot_dialect
from clinicsync.connectors.sql_session import describe, plain_value, read_only_connection, source_engine
from clinicsync.mappings.engine import PRESETS_DIR as MAPPING_PRESETS_DIR
from clinicsync.sync.discover.clock import (
    ClockOptions,
    ClockUnclear,
    clock_options,
    current_options,
    server_zone_names,
    settle_clock,
)
from clinicsync.sync.discover.naming import region_of
from clinicsync.sync.discover.products import PRODUCTS, Match, recognize, suffixes
from clinicsync.sync.discover.proposal import Guess, Proposal, StatusWord
from clinicsync.sync.discover.scoring import ColumnSample, score_columns

MAX_TABLES = 300  # tables whose columns are read for an unknown schema
MAX_WORDS = 200  # distinct status words listed
SAMPLE_ROWS = 50
TIMEOUT = 30.0
_WIDE = (datetime(1900, 1, 1), datetime(2200, 1, 1))  # window binds when counting a preset's status words
_APPOINTMENT_NAMES = re.compile(r"appoint|booking|cita|turno|agenda|visit|consulta|termin|rdv|rendez|encounter|"
                                r"schedule|event|reserv", re.I)
_PERSON_NAMES = re.compile(r"patient|paciente|customer|client|doctor|medic|provider|practitioner|staff|user|"
                           r"person|persona|profesional|dentist|therapist|demographic|usuario", re.I)
_UPDATED = re.compile(r"(updated|modified|changed|last_?update|last_?modif|actualizad|modificad|geaendert|"
                      r"update_datetime|mtime)", re.I)
_DATE_TYPES = re.compile(r"date|time", re.I)


class DiscoverError(Exception):
    """Discovery cannot go on; the message says what to give or fix (never a password)."""


@dataclass(frozen=True)
class _Table:
    name: str  # as the database spells it
    columns: dict[str, str]  # column -> type name, in table order
    primary_key: list[str]
    references: list[tuple[str, str, str]]  # (own column, referred table, referred column)


def secret_url(url: str, name: str) -> tuple[str, dict[str, str]]:
    """The URL as it goes into settings.yaml, without its password, and the environment
    variable (``NAME_DB_PASSWORD``) the connector's ``password:`` reads it from instead, with
    what it is for; ``{}`` when the URL has no password. A separate key, not ``${VAR}`` inside
    the URL: a password holding '@' or '/' would otherwise break the URL once substituted."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DiscoverError("not a database URL (e.g. mysql://user@host/db or postgresql://user@host/db)") from None
    if not parsed.password:
        return url, {}
    var = re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") + "_DB_PASSWORD"
    bare = URL.create(parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database,
                      parsed.query)
    return bare.render_as_string(hide_password=False), {
        var: f"the password of database user {parsed.username!r} (it was in the URL given to discover)"}


def default_name(url: URL) -> str:
    """A connector name from the database's name: lower case letters, digits and '-'."""
    base = Path(url.database or url.host or "source").stem
    cleaned = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")
    return cleaned[:40] or "source"


@contextmanager
def _reading(url: str, timeout: float) -> Iterator[Connection]:
    try:
        engine = source_engine(driver_url(url), timeout)
    except (ArgumentError, SQLAlchemyError, ImportError) as exc:
        raise DiscoverError(f"cannot use this database URL: {describe(exc)}") from None
    try:
        with read_only_connection(engine, timeout) as connection:
            yield connection
    except SQLAlchemyError as exc:
        raise DiscoverError(f"reading the database failed: {describe(exc)}") from None
    finally:
        engine.dispose()


def _run(connection: Connection, sql: str, binds: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """One statement built here, passed through the connector's SELECT guard first."""
    check_select(sql, frozenset({"cursor", "window_start", "window_end"}), sqlglot_dialect(connection.dialect.name))
    mysql = connection.dialect.name in ("mysql", "mariadb")
    return [tuple(plain_value(v, mysql) for v in row) for row in connection.execute(text(sql), dict(binds or {}))]


def _quote(connection: Connection, name: str) -> str:
    """``name`` as one identifier, by the dialect's own quoting, its ':' escaped: SQLAlchemy's
    ``text()`` (discover's reads, the connector's query) takes ``:word`` for a bind parameter
    even inside quotes, and turns ``\\:`` back into ``:``. A name holding ``\\:`` itself
    cannot pass through ``text()`` unchanged and is refused."""
    if "\\:" in name:
        raise DiscoverError(f"the table or column {name!r} holds '\\:', which cannot be passed to the database "
                            "unchanged: rename it, or give a view without it with --table")
    return str(connection.dialect.identifier_preparer.quote(name)).replace(":", "\\:")


def discover_sql(url: str, *, name: str | None = None, timezone: str | None = None, table: str | None = None,
                 region: str | None = None, sample_rows: int = SAMPLE_ROWS, timeout: float = TIMEOUT,
                 stored_times: str | None = None, clinic_zone: str | None = None) -> Proposal:
    """Read the database at ``url`` (read-only) and propose a connector and mapping for it.
    ``region`` reads phone numbers written without +country (default: the country of the
    zone, else US), as the connector will (``clinic.default_region``). ``stored_times``:
    the admin's ``--stored-times`` (else told from the database, clock.py); ``clinic_zone``:
    the settings file's clinic.timezone, the visits' zone when nothing else names one."""
    if stored_times is not None and stored_times not in STORED_TIMES:
        raise DiscoverError(f"--stored-times: {stored_times!r} is neither utc nor local")
    if clinic_zone is not None:
        _valid_zone(clinic_zone, "clinic.timezone")
    with clock_options(ClockOptions(stored_times, clinic_zone)):
        return _discover_sql(url, name=name, timezone=timezone, table=table, region=region, sample_rows=sample_rows,
                             timeout=timeout)


def _discover_sql(url: str, *, name: str | None, timezone: str | None, table: str | None,
                  region: str | None, sample_rows: int, timeout: float) -> Proposal:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DiscoverError("not a database URL (e.g. mysql://user@host/db or postgresql://user@host/db)") from None
    named = "given with --name" if name else "the database's name"
    name = name or default_name(parsed)
    if timezone is not None:
        _valid_zone(timezone, "--timezone")
    written_url, secrets = secret_url(url, name)
    with _reading(url, timeout) as connection:
        inspector = inspect(connection)
        names = inspector.get_table_names()
        by_lower = {n.lower(): n for n in names}
        columns: dict[str, set[str]] = {}
        ends = suffixes()
        for lower, real in by_lower.items():
            if table is None and (any(lower in p.signature for p in PRODUCTS) or lower.endswith(tuple(ends))):
                columns[lower] = {c["name"].lower() for c in inspector.get_columns(real)}
        found = recognize(columns) if table is None else None
        if found is not None:
            proposal = _product_proposal(connection, found, name, written_url, timezone)
        else:
            proposal = _shape_proposal(connection, inspector, names, name, written_url, timezone, table, sample_rows,
                                        region)
        try:  # how the database writes its date-times (issue 57), last: it may stop and ask
            settle_clock(connection, _run, proposal, timezone)
        except ClockUnclear as exc:
            raise DiscoverError(str(exc)) from None
    proposal.connector_notes["name"] = named
    proposal.secret_env.update(secrets)
    for var in secrets:
        connector = proposal.connector
        at = list(connector).index("url") + 1
        proposal.connector = {**dict(list(connector.items())[:at]), "password": "${" + var + "}",
                              **dict(list(connector.items())[at:])}
        proposal.connector_notes["url"] = "the URL given, without its password"
        proposal.connector_notes["password"] = f"read from the environment variable {var} (never written here)"
    return proposal


def _valid_zone(value: str, where: str) -> str:
    try:
        zone(value)
    except TimeError:
        raise DiscoverError(f"{where}: {value!r} is not an IANA time zone (e.g. America/New_York)") from None
    return value


def server_zone(connection: Connection) -> str | None:
    """The database server's own zone when it names a region (Europe/Madrid); None for UTC,
    SYSTEM or an offset, which say nothing about the clinic's wall clock."""
    for value in server_zone_names(connection, _run):
        if "/" in value and not value.startswith("Etc/"):
            try:
                zone(value)
            except TimeError:
                continue
            return value
    return None


def _zone(connection: Connection, given: str | None, zone_column: str | None,
          notes: dict[str, str]) -> str | None:
    """The connector's ``timezone`` (the visits' zone): given, else the server's (a region),
    else None when each row carries its own zone or the settings file names clinic.timezone
    (a server on UTC says nothing about the clinic's zone: clock.py tells whether it keeps
    UTC, and notes the zone the visits are in); else ask."""
    if given:
        notes["timezone"] = "given with --timezone"
        return given
    if zone_column:
        return None
    guessed = server_zone(connection)
    if guessed:
        notes["timezone"] = "the database server's own zone (guess: give --timezone if the clinic's differs)"
        return guessed
    if current_options().clinic_zone:
        return None
    raise DiscoverError("the database keeps wall-clock times without a zone, and its server names none: give "
                        "the clinic's zone with --timezone (e.g. --timezone America/New_York)")


# -- known products ----------------------------------------------------------------------------

def _mapping_data(name: str) -> dict[str, Any]:
    """A shipped mapping preset's YAML, merged with what it extends."""
    data: dict[str, Any] = yaml.safe_load((MAPPING_PRESETS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    parent = data.get("extends")
    if parent:
        base = _mapping_data(str(parent))
        data = {**base, **data, "fields": {**base.get("fields", {}), **data.get("fields", {})},
                "status_map": {**base.get("status_map", {}), **data.get("status_map", {})}}
    return data


def _source_of(spec: Any) -> str:
    if not isinstance(spec, dict):
        return str(spec)
    if spec.get("date") and spec.get("time"):
        return f"{spec['date']} + {spec['time']}"
    for key in ("from", "column", "concat", "date"):
        value = spec.get(key)
        if value:
            return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return "constant" if "value" in spec else "?"


class _StatusReader:
    """What a mapping makes of a status word, as the engine does: the field's own ``map``
    (with its default for a word it drops), then ``status_map``, then FHIR's words."""

    def __init__(self, mapping: Mapping[str, Any]) -> None:
        spec = (mapping.get("fields") or {}).get("status") or {}
        spec = spec if isinstance(spec, dict) else {}
        self.field_map = {str(k).strip().lower(): v for k, v in (spec.get("map") or {}).items()}
        self.drops = spec.get("on_invalid") == "drop"
        self.default = spec.get("default")
        self.status_map = {str(k).strip().lower(): v for k, v in (mapping.get("status_map") or {}).items()}

    def known(self, word: str) -> tuple[str | None, str]:
        key = word.strip().lower()
        if key in self.field_map:
            return str(self.field_map[key]), "the preset's map"
        if key in self.status_map:
            return str(self.status_map[key]), "the preset's status_map"
        if key in STATUSES:
            return key, "a FHIR status word"
        if self.field_map and self.drops and self.default:
            return str(self.default), f"not in the preset's map: kept {self.default} by its default"
        return None, ""


def guess_status(word: str) -> str | None:
    """A status word's meaning when it is a known synonym (several languages), else None."""
    return STATUS_SYNONYMS.get(status_key(word))


def _product_proposal(connection: Connection, match: Match, name: str, url: str, timezone: str | None) -> Proposal:
    product, confidence = match.product, match.confidence
    preset = product.preset
    mapping = _mapping_data(preset.mapping)
    known = f"known product: {product.label} (confidence {confidence:.2f}; its schema: {product.source_note})"
    notes: dict[str, str] = {"kind": "a database URL", "url": "the URL given", "query_preset": known}
    connector: dict[str, Any] = {"name": name, "kind": "sql", "query_preset": product.name, "url": url}
    query = match.rewrite(preset.query)
    if match.prefix is not None:  # the preset's query, for this installation's table prefix
        del connector["query_preset"]
        connector["query"] = query
        connector["mode"] = preset.mode
        notes["query"] = (f"{known}: the preset {product.name!r}'s query with the table prefix {match.prefix!r} "
                          f"instead of {product.table_prefix!r}")
        notes["mode"] = "the preset's"
        if preset.cursor_column:
            connector["cursor_column"] = preset.cursor_column
            notes["cursor_column"] = "the preset's"
    stored_zone = _stored_zone(connection, match) if timezone is None else None
    if stored_zone:
        zone_value: str | None = stored_zone
        notes["timezone"] = f"{product.label}'s own setting ({product.zone_setting})"
    elif preset.stored_times == "utc" and timezone is None:
        zone_value = None  # the instants are right whatever the zone: the visits take clinic.timezone
    else:
        zone_value = _zone(connection, timezone, product.zone_column, notes)
    if zone_value:
        connector["timezone"] = zone_value
    status_field = (mapping.get("fields") or {}).get("status") or {}
    status_from = status_field.get("from") if isinstance(status_field, dict) else None
    status_column = status_from[0] if isinstance(status_from, list) else status_from
    words = _preset_status_words(connection, query, str(status_column)) if status_column else []
    reader = _StatusReader(mapping)
    status_words: list[StatusWord] = []
    additions: dict[str, str | None] = {}
    for word, count in words:
        status, _ = reader.known(word)
        if status is not None:
            status_words.append(StatusWord(word, status, count, confidence))
            continue
        guessed = guess_status(word)
        status_words.append(StatusWord(word, guessed, count, 0.6 if guessed else 0.0))
        additions[word] = guessed
    guesses = [Guess(field, _source_of(spec), confidence, f"known product: {product.label} (mapping {preset.mapping})",
                     spec if isinstance(spec, dict) else {"from": spec})
               for field, spec in (mapping.get("fields") or {}).items()]
    proposal = Proposal(kind="sql", name=name, product=product.name, product_confidence=confidence,
                        connector=connector, connector_notes=notes, mapping_preset=preset.mapping,
                        mapping={"extends": preset.mapping,
                                 "status_map": {w: s for w, s in additions.items() if s is not None}},
                        guesses=guesses, status_words=status_words)
    deletes = ("incremental on " + str(preset.cursor_column) + ", deletes found by the hourly delete sweep"
               if preset.mode == "incremental" else "snapshot: the window is re-read every run, what vanished "
                                                    "is deleted")
    proposal.notes.append(f"{product.label}: mode {deletes} (the preset's)")
    if preset.stored_times == "utc" and "timezone" not in connector:
        proposal.notes.append(f"{product.label} stores UTC and keeps no zone for the clinic: each visit takes "
                              "clinic.timezone (give --timezone for another)")
    if product.zone_column:
        proposal.notes.append(f"each row carries its own zone (column {product.zone_column!r}); the connector's "
                              "timezone is only the fallback")
    if preset.writeback_statement:
        proposal.notes.append("write-back is possible with a write-enabled login: writeback: {url: …, status_map: "
                              "{…}} runs " + " ".join(match.rewrite(preset.writeback_statement).split()))
    if additions:
        proposal.notes.append(f"{len(additions)} status word(s) the preset does not map: see the mapping file")
    return proposal


def _stored_zone(connection: Connection, match: Match) -> str | None:
    """The clinic's zone as a recognized product keeps it (its ``zone_query``): the zone it
    writes local times in (Frappe's System Settings), or, for a product that writes UTC, the
    zone its users see (Odoo's users' zone). None when it has no such setting, it is empty or
    not a valid IANA zone, or the login may not read it."""
    query = match.product.zone_query
    if not query:
        return None
    try:
        with connection.begin_nested():  # a refused read (no grant) must not end PostgreSQL's transaction
            rows = _run(connection, match.rewrite(query))
    except (SQLAlchemyError, StatementRefused):
        return None
    value = rows[0][0] if rows else None
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        zone(value.strip())
    except TimeError:
        return None
    return value.strip()


def _preset_status_words(connection: Connection, query: str, column: str) -> list[tuple[str, int]]:
    """The distinct values of the preset's status column over every row its query reads
    (a very wide window), with their counts: the words the mapping will meet."""
    column_sql = _quote(connection, column)
    sql = (f"SELECT clinicsync_src.{column_sql}, COUNT(*) FROM ({query}) AS clinicsync_src "
           f"GROUP BY clinicsync_src.{column_sql} ORDER BY COUNT(*) DESC")
    rows = _run(connection, sql, {"window_start": _WIDE[0], "window_end": _WIDE[1], "cursor": None})
    return [("" if value is None else str(value), int(count)) for value, count in rows[:MAX_WORDS]]


# -- unknown schemas ---------------------------------------------------------------------------

def _tables(inspector: Any, names: Sequence[str]) -> dict[str, _Table]:
    out: dict[str, _Table] = {}
    for table_name in list(names)[:MAX_TABLES]:
        cols = {c["name"]: str(c["type"]) for c in inspector.get_columns(table_name)}
        pk = list(inspector.get_pk_constraint(table_name).get("constrained_columns") or [])
        refs = [(fk["constrained_columns"][0], fk["referred_table"], fk["referred_columns"][0])
                for fk in inspector.get_foreign_keys(table_name)
                if len(fk.get("constrained_columns") or []) == 1 and fk.get("referred_table")]
        out[table_name] = _Table(table_name, cols, pk, refs)
    return out


def _implied_references(table: _Table, tables: Mapping[str, _Table]) -> list[tuple[str, str, str]]:
    """References the schema does not declare but its names say: ``paciente_id`` -> the
    table ``pacientes``/``paciente`` by its one-column primary key."""
    declared = {own for own, _, _ in table.references}
    found = []
    for column in table.columns:
        match = re.fullmatch(r"(?:id_?)?(.+?)(?:_?id)?", column, re.I)
        if column in declared or match is None or column.lower() in ("id",) or not re.search(r"id", column, re.I):
            continue
        stem = match.group(1).lower().rstrip("_")
        for other in tables.values():
            plain = other.name.lower()
            if other.name != table.name and plain in (stem, stem + "s", stem + "es") and len(other.primary_key) == 1:
                found.append((column, other.name, other.primary_key[0]))
                break
    return found


def _appointment_score(table: _Table, tables: Mapping[str, _Table]) -> float:
    dates = sum(bool(_DATE_TYPES.search(t)) or bool(re.search(r"fecha|date|start|inicio|hora", c, re.I))
                for c, t in table.columns.items())
    refs = table.references + _implied_references(table, tables)
    people = sum(bool(_PERSON_NAMES.search(ref)) for _, ref, _ in refs)
    return (min(dates, 3) + 2 * min(people, 2) + 3 * bool(_APPOINTMENT_NAMES.search(table.name))
            + 0.5 * min(len(refs), 3)) * bool(dates)


def _pick_table(tables: Mapping[str, _Table], wanted: str | None) -> _Table:
    if wanted is not None:
        for table in tables.values():
            if table.name.lower() == wanted.lower():
                return table
        raise DiscoverError(f"--table: no table {wanted!r} in this database (tables: "
                            f"{', '.join(sorted(tables)[:30])})")
    scored = sorted(((s, t.name) for t in tables.values() if (s := _appointment_score(t, tables)) > 0),
                    reverse=True)
    if not scored:
        raise DiscoverError("no table with dates was found: which table holds the appointments? Give it with "
                            "--table")
    if len(scored) > 1 and scored[0][0] == scored[1][0]:
        tied = [n for s, n in scored if s == scored[0][0]]
        raise DiscoverError(f"several tables look like appointments ({', '.join(tied)}): pick one with --table")
    return tables[scored[0][1]]


@dataclass(frozen=True)
class _Join:
    sql_from: str  # FROM … LEFT JOIN …
    select: dict[str, str]  # output column -> SQL expression
    tables_of: dict[str, str]  # output column -> table it comes from
    types: dict[str, str]


def _build_join(connection: Connection, main: _Table, tables: Mapping[str, _Table]) -> _Join:
    """The appointment table (alias a) with each table it refers to (t1, t2 …); the appointment's
    columns keep their names, a referred table's are prefixed with the referring column's stem
    (``paciente_nombre``)."""
    q = lambda n: _quote(connection, n)  # noqa: E731 - a short local alias
    select: dict[str, str] = {}
    tables_of: dict[str, str] = {}
    types: dict[str, str] = {}
    for column, type_name in main.columns.items():
        select[column] = f"a.{q(column)}"
        tables_of[column] = main.name
        types[column] = type_name
    joins = [f"FROM {q(main.name)} AS a"]
    refs = main.references + _implied_references(main, tables)
    for index, (own, referred, key) in enumerate(refs[:6], start=1):
        other = tables.get(referred)
        if other is None:
            continue
        alias = f"t{index}"
        joins.append(f"LEFT JOIN {q(other.name)} AS {alias} ON {alias}.{q(key)} = a.{q(own)}")
        stem = re.sub(r"(?i)(^id_?|_?id$)", "", own) or other.name
        for column, type_name in other.columns.items():
            if column == key:
                continue
            out = f"{stem}_{column}"
            if out in select:
                continue
            select[out] = f"{alias}.{q(column)}"
            tables_of[out] = other.name
            types[out] = type_name
    return _Join("\n".join(joins), select, tables_of, types)


def _select_sql(connection: Connection, join: _Join, where: str = "") -> str:
    columns = ",\n  ".join(expr if expr == f"a.{_quote(connection, out)}" else f"{expr} AS {_quote(connection, out)}"
                           for out, expr in join.select.items())
    return f"SELECT\n  {columns}\n{join.sql_from}" + (f"\nWHERE {where}" if where else "")


def _shape_proposal(connection: Connection, inspector: Any, names: Sequence[str], name: str, url: str,
                    timezone: str | None, wanted: str | None, sample_rows: int,
                    region: str | None = None) -> Proposal:
    tables = _tables(inspector, names)
    main = _pick_table(tables, wanted)
    join = _build_join(connection, main, tables)
    order = main.primary_key[0] if main.primary_key else next(iter(main.columns))
    sample_sql = (_select_sql(connection, join) +
                  f"\nORDER BY a.{_quote(connection, order)} DESC\nLIMIT {int(sample_rows)}")
    rows = _run(connection, sample_sql)
    outs = list(join.select)
    samples = [ColumnSample(out, join.types[out],
                            [None if row[i] is None else str(row[i]) for row in rows],
                            join.tables_of[out] if join.tables_of[out] != main.name else None)
               for i, out in enumerate(outs)]
    scored = score_columns(samples, region=region or region_of(timezone))
    notes: dict[str, str] = {"kind": "a database URL", "url": "the URL given"}
    by_field = {g.field: g for g in scored.guesses}
    start = by_field.get("start")
    start_column = start.source if start is not None and start.source in join.select else None
    dated = start_column is not None and bool(re.search(r"date|time", join.types[start_column], re.I))
    where = f"{join.select[start_column]} BETWEEN :window_start AND :window_end" if dated and start_column else ""
    connector: dict[str, Any] = {"name": name, "kind": "sql", "url": url, "query": _select_sql(connection, join, where)}
    notes["query"] = (f"table {main.name!r} (the most appointment-like: dates and references to "
                      f"{', '.join(sorted({t for t in join.tables_of.values() if t != main.name})) or 'no table'})"
                      + (f", in the window on {start_column!r}" if where else
                         ", all rows: the start is not a date column, so no window can be applied"))
    stamped = by_field.get("source_updated_at")  # the scorer's reading, in any language ('modifie_le')
    updated = next((c for c, t in main.columns.items() if _DATE_TYPES.search(t) and (
        _UPDATED.search(c) or (stamped is not None and stamped.source == c))), None)
    if updated is not None:
        connector["mode"] = "incremental"
        connector["cursor_column"] = updated
        notes["mode"] = f"column {updated!r} looks like an updated-at stamp: deletes are found by the delete sweep"
        notes["cursor_column"] = "the updated-at column"
    else:
        connector["mode"] = "snapshot"
        notes["mode"] = "no updated-at column: the window is re-read every run, what vanished is deleted"
    zone_guess = by_field.get("timezone")
    try:
        zone_value = _zone(connection, timezone, zone_guess.source if zone_guess else None, notes)
    except DiscoverError:
        zone_value = None
        notes["timezone"] = "unknown: give the clinic's zone with --timezone"
    if zone_value:
        connector["timezone"] = zone_value
    status_words = _all_status_words(connection, join, by_field.get("status"), scored.status_words)
    status_map = {w.value: w.status for w in status_words if w.status is not None}
    mapping: dict[str, Any] = {"status_map": status_map, "fields": {g.field: g.spec for g in scored.guesses}}
    formats = list(getattr(scored, "datetime_formats", None) or [])  # a scorer that reads local date texts
    if formats:
        mapping["datetime_formats"] = formats
    proposal = Proposal(kind="sql", name=name, product=None, product_confidence=0.0, connector=connector,
                        connector_notes=notes, mapping=mapping, guesses=list(scored.guesses),
                        status_words=status_words, unplaced=list(scored.unplaced))
    proposal.notes.extend(getattr(scored, "notes", None) or [])
    if "timezone" not in connector and zone_guess is None:
        proposal.notes.append("no zone was found: the connector uses clinic.timezone (or give --timezone)")
    proposal.notes.append(f"unknown schema: read by its shape from table {main.name!r} and {len(rows)} sampled rows")
    return proposal


def _all_status_words(connection: Connection, join: _Join, guess: Guess | None,
                      sampled: Sequence[StatusWord]) -> list[StatusWord]:
    """The status column's words over the whole table, not only the sample: a word the sample
    missed would be quarantined on the first run. The scorer's reading of a word stands; a word
    it did not see is read as a known synonym, else listed as unknown."""
    if guess is None or guess.source not in join.select:
        return list(sampled)
    expr = join.select[guess.source]
    rows = _run(connection, f"SELECT {expr}, COUNT(*)\n{join.sql_from}\nGROUP BY {expr}\nORDER BY COUNT(*) DESC")
    seen = {w.value: w for w in sampled}
    out = []
    for value, count in rows[:MAX_WORDS]:
        if value is None:
            continue
        word = str(value)
        known = seen.get(word)
        guessed = guess_status(word)
        out.append(StatusWord(word, known.status, int(count), known.confidence) if known is not None else
                   StatusWord(word, guessed, int(count), 0.6 if guessed else 0.0))
    return out
