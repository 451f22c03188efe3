"""discover's proposal for a known product (sync/discover/products.py): its query preset and
mapping, with the status words the database really holds checked against the preset's mapping
(a site's own word is added to the proposed mapping when its meaning is known, listed as unknown
otherwise), and the clinic's zone where the product keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.common.timeutil import TimeError, zone
from clinicsync.common.vocabulary import STATUSES
from clinicsync.connectors.sql_guard import StatementRefused
from clinicsync.connectors.sql_limit import first_rows
from clinicsync.mappings.preset_files import PRESETS_DIR as MAPPING_PRESETS_DIR
from clinicsync.sync.discover.products import Match
from clinicsync.sync.discover.proposal import Guess, Proposal, StatusWord
from clinicsync.sync.discover.sql_reading import MAX_WORDS, SWEEP_NOTE, quote_name, run_checked, visits_zone
from clinicsync.sync.discover.statuses import status_word

_WIDE = (datetime(1900, 1, 1), datetime(2200, 1, 1))  # window binds when counting a preset's status words


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


def product_proposal(connection: Connection, match: Match, name: str, url: str, timezone: str | None) -> Proposal:
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
        zone_value = visits_zone(connection, timezone, product.zone_column, notes)
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
        guessed, _ = status_word(word)
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
    deletes = ("incremental on " + str(preset.cursor_column) + ", deletes found by " + SWEEP_NOTE
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
            rows = run_checked(connection, first_rows(match.rewrite(query), 1, connection.dialect.name))
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
    column_sql = quote_name(connection, column)
    sql = (f"SELECT clinicsync_src.{column_sql}, COUNT(*) FROM ({query}) AS clinicsync_src "
           f"GROUP BY clinicsync_src.{column_sql} ORDER BY COUNT(*) DESC")
    rows = run_checked(connection, sql, {"window_start": _WIDE[0], "window_end": _WIDE[1], "cursor": None})
    return [("" if value is None else str(value), int(count)) for value, count in rows[:MAX_WORDS]]
