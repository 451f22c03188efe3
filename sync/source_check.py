"""`clinicsync check` for one connector: reach the source, read it WHOLE without moving any
cursor or file, and map every record as a sync would — so a mapping that reads a column
the source does not have fails here, not as a null on every appointment, and a bad row in
the middle or at the end of an export is found, with every distinct quarantine reason.

Reading and mapping are cheap (~80,000 records/s), so the whole source is the sample, up
to ``max_records``; the report states what was read (first, middle and last position, and
an example position for each quarantine reason). Sources that cannot be read as a sync
reads them (push sources, a CSV folder holding only its archived file) give a sample.

What it reports is safe to print: counts, positions (file:line), column and path names,
field names, location names and quarantine reasons; never a record's values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clinicsync.connectors.base import Connector, ConnectorError, ConnectorSettings, RawRecord, Rejected
from clinicsync.connectors.registry import build_connector
from clinicsync.mappings.audit import Finding, audit_columns, audit_paths
from clinicsync.mappings.engine import CompiledMapping
from clinicsync.mappings.model import MappingError
from clinicsync.mappings.waitlist import load_waitlist_mapping, mapping_record
from clinicsync.sync.empty_fields import FieldFill
from clinicsync.sync.engine import mapping_for, source_clock
from clinicsync.sync.settings import Settings

SAMPLE_SIZE = 20  # a push source's or an archived file's sample
MAX_RECORDS = 1_000_000  # read whole up to this many records per source
_FLAT = frozenset({"csv", "sql"})  # sources with exact columns (audit_columns), others by path
_UNIT = {"fhir": "Appointment", "hl7v2": "message"}


@dataclass
class SourceCheck:
    """One connector's check: ``problems`` fail it, ``findings`` explain the mapping."""

    connector: str
    kind: str
    reached: str = ""  # the connector's own check() detail
    problems: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    sample_source: str | None = None
    sampled: int = 0
    mapped: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)  # reason -> records
    empty_fields: list[str] = field(default_factory=list)  # mapped, yet empty on every sampled record
    note: str | None = None
    whole: bool = False  # the whole source was read (else a sample, or cut at max_records)
    positions: dict[str, str] = field(default_factory=dict)  # first / middle / last record read
    examples: dict[str, str] = field(default_factory=dict)  # quarantine reason -> first position
    locations: Counter[str] = field(default_factory=Counter)  # location -> mapped records
    languages: Counter[str] = field(default_factory=Counter)  # patient language -> mapped records

    @property
    def quarantined_count(self) -> int:
        return sum(self.quarantined.values())

    @property
    def ok(self) -> bool:
        return not self.problems and not any(f.level == "error" for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {"connector": self.connector, "kind": self.kind, "ok": self.ok, "reached": self.reached,
                "problems": self.problems, "findings": [f.as_dict() for f in self.findings],
                "sample": {"source": self.sample_source, "records": self.sampled, "mapped": self.mapped,
                           "quarantined": dict(self.quarantined), "empty_fields": self.empty_fields,
                           "whole": self.whole, "positions": self.positions, "examples": self.examples,
                           "locations": dict(self.locations), "languages": dict(self.languages)},
                "note": self.note}


def connector_mapping(settings: Settings, config: ConnectorSettings) -> CompiledMapping:
    """The connector's compiled mapping, as a sync loads it (ValueError names the key)."""
    return mapping_for(settings, config)


def mapping_problems(settings: Settings, only: list[str] | None = None) -> list[str]:
    """Every connector's mapping (of those named in ``only``, if given) that does not load —
    missing file, misspelt key, bad default or zone — named by its settings key (for
    `config validate`, `check` and `sync`)."""
    problems = []
    for index, config in enumerate(settings.connectors):
        if only and config.name not in only:
            continue
        try:
            if mapping_record(config.mapping, settings.base_dir) == "waitlist":  # a waitlist source (issue 33)
                load_waitlist_mapping(config.mapping, settings.clinic.timezone, settings.clinic.default_region,
                                      settings.base_dir)
            else:
                connector_mapping(settings, config)
        except ValueError as exc:
            problems.append(f"connectors[{index}].mapping ({config.name}): {exc}")
        waitlist_mapping = getattr(config, "waitlist_mapping", None)
        if getattr(config, "waitlist", False) and isinstance(waitlist_mapping, str):
            try:
                load_waitlist_mapping(waitlist_mapping, settings.clinic.timezone, settings.clinic.default_region,
                                      settings.base_dir)
            except ValueError as exc:
                problems.append(f"connectors[{index}].waitlist_mapping ({config.name}): {exc}")
    return problems


def own_fields(ref: str, base_dir: Path) -> frozenset[str]:
    """The targets a site's own mapping file defines itself (not inherited from a preset
    through ``extends``); a shipped preset's fields are all optional guesses."""
    if not (ref.endswith((".yaml", ".yml")) or "/" in ref):
        return frozenset()
    try:
        data = yaml.safe_load((base_dir / ref).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return frozenset()
    fields = data.get("fields") if isinstance(data, dict) else None
    return frozenset(fields) if isinstance(fields, dict) else frozenset()


class _Mapper:
    """Maps records one by one as a sync does, keeping only what is safe to report."""

    def __init__(self, result: SourceCheck, mapping: CompiledMapping) -> None:
        self.result, self.mapping, self.fill = result, mapping, FieldFill(mapping)
        self.positions: list[str] = []
        self.head: list[Mapping[str, Any]] = []  # the first records, for the mapping's path audit

    def rejected(self, rejected: Rejected) -> None:
        self._quarantine(rejected.reason, rejected.position)

    def _quarantine(self, reason: str, position: str) -> None:
        self.positions.append(position)
        self.result.quarantined[reason] += 1
        self.result.examples.setdefault(reason, position)

    def record(self, record: RawRecord) -> None:
        if len(self.head) < SAMPLE_SIZE:
            self.head.append(record.data)
        try:
            appointment = self.mapping.apply(record.data)
        except MappingError as exc:
            self._quarantine(f"{exc.field}: {exc.reason}", record.position)
            return
        except Exception as exc:  # as in a sync: odd input never crashes the check
            self._quarantine(f"unexpected mapping failure ({type(exc).__name__})", record.position)
            return
        self.positions.append(record.position)
        self.result.mapped += 1
        self.fill.add((appointment,))
        if appointment.location and appointment.visit_mode in (None, "in_person"):
            self.result.locations[appointment.location] += 1
        if appointment.patient is not None and appointment.patient.language:
            self.result.languages[appointment.patient.language] += 1

    def finish(self) -> None:
        result, positions = self.result, self.positions
        result.sampled = len(positions)
        if positions:
            result.positions = {"first": positions[0], "middle": positions[len(positions) // 2],
                                "last": positions[-1]}
        result.empty_fields = self.fill.empty()


def _read(connector: Connector, mapper: _Mapper, max_records: int) -> str | None:
    """Read the source as a sync would (from the start, dry run: nothing archived, no cursor
    stored) and map every record; the name of what was read, None when nothing was there."""
    connector.dry_run = True
    sources: list[str] = []
    seen = 0
    batches = connector.fetch(None)
    try:
        for batch in batches:
            if batch.source and batch.source not in sources:
                sources.append(batch.source)
            for rejected in batch.rejected[:max_records - seen]:
                mapper.rejected(rejected)
                seen += 1
            for record in batch.records[:max_records - seen]:
                mapper.record(record)
                seen += 1
            if seen >= max_records:
                mapper.result.note = (f"stopped after {seen} records (--max-records): the rest of the source "
                                      "was not read")
                return ", ".join(sources) or "the source"
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()  # a generator left early closes its file or cursor now
    if not seen:
        return None
    mapper.result.whole = True
    return ", ".join(sources) or "the source"


def check_connector(settings: Settings, config: ConnectorSettings, max_records: int = MAX_RECORDS) -> SourceCheck:
    """Reach the source, read it whole (up to ``max_records``), map every record; a push
    source or a folder whose only file is archived gives a sample of ``SAMPLE_SIZE``."""
    result = SourceCheck(config.name, config.kind)
    if mapping_record(config.mapping, settings.base_dir) == "waitlist":
        result.note = ("a waitlist source (its mapping says record: waitlist): read by the waitlist_sources stage "
                       "of each run; its records were not sampled here")
        return result
    try:
        mapping = connector_mapping(settings, config)
    except ValueError as exc:
        result.problems.append(f"mapping does not load: {exc}")
        return result
    connector = None
    try:
        connector = build_connector(config)
        connector.required_columns = mapping.required_sources()
        connector.source_zone = source_clock(settings, config)
        reached = connector.check()
        result.reached = reached.detail
        if not reached.ok:
            result.problems.append(reached.detail)
            return result
        mapper = _Mapper(result, mapping)
        read = _read(connector, mapper, max_records) if connector.polled else None
        sample = None if read is not None else connector.sample(min(SAMPLE_SIZE, max_records))
    except NotImplementedError as exc:
        result.note = f"{exc}: the mapping was not compared with the source"
        return result
    except ConnectorError as exc:
        result.problems.append(str(exc))
        return result
    except Exception as exc:  # the diagnosis command reports, it does not crash
        result.problems.append(f"{type(exc).__name__}: {exc}")
        return result
    finally:
        if connector is not None:
            connector.close()
    if read is not None:
        result.sample_source = read
        mapper.finish()
        if config.kind in _FLAT and mapper.head:  # a CSV header / SQL result set: the record's keys
            result.findings = audit_columns(mapping.preset, list(mapper.head[0]),
                                            own_fields(config.mapping, settings.base_dir))
        else:
            result.findings = audit_paths(mapping.preset, mapper.head, _UNIT.get(config.kind, "record"))
        return result
    if sample is None:
        result.note = ("nothing to sample (no file waiting or archived, or a listener-only source): the mapping "
                       "was not compared with the source")
        return result
    if sample.columns is not None:
        result.findings = audit_columns(mapping.preset, sample.columns, own_fields(config.mapping, settings.base_dir))
    else:
        records = [r.data for r in sample.records]
        result.findings = audit_paths(mapping.preset, records, _UNIT.get(config.kind, "record"))
    result.sample_source = sample.source
    for rejected in sample.rejected:
        mapper.rejected(rejected)
    for record in sample.records:
        mapper.record(record)
    mapper.finish()
    if not sample.records and not sample.rejected:
        result.note = "the source returned no records in its window: only its columns were compared"
    return result
