"""`clinicsync check` for one connector: reach the source, read a small sample without
moving any cursor or file, and map it as a sync would — so a mapping that reads a
column the source does not have fails here, not as a null on every appointment.

What it reports is safe to print: counts, column and path names, field names and
quarantine reasons; never a record's values.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clinicsync.connectors.base import ConnectorError, ConnectorSettings, Sample
from clinicsync.connectors.registry import build_connector
from clinicsync.mappings.audit import Finding, audit_columns, audit_paths
from clinicsync.mappings.engine import CompiledMapping, load_mapping
from clinicsync.mappings.model import MappingError, NormalizedAppointment
from clinicsync.sync.settings import Settings

SAMPLE_SIZE = 20
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

    @property
    def ok(self) -> bool:
        return not self.problems and not any(f.level == "error" for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {"connector": self.connector, "kind": self.kind, "ok": self.ok, "reached": self.reached,
                "problems": self.problems, "findings": [f.as_dict() for f in self.findings],
                "sample": {"source": self.sample_source, "records": self.sampled, "mapped": self.mapped,
                           "quarantined": dict(self.quarantined), "empty_fields": self.empty_fields},
                "note": self.note}


def connector_mapping(settings: Settings, config: ConnectorSettings) -> CompiledMapping:
    """The connector's compiled mapping, as a sync loads it (ValueError names the key)."""
    return load_mapping(config.mapping, settings.clinic.timezone, settings.clinic.default_region, settings.base_dir,
                        settings.clinic.plausible_dates.window())


def mapping_problems(settings: Settings) -> list[str]:
    """Every connector's mapping that does not load — missing file, misspelt key, bad
    default or zone — named by its settings key (for `config validate` and `check`)."""
    problems = []
    for index, config in enumerate(settings.connectors):
        try:
            connector_mapping(settings, config)
        except ValueError as exc:
            problems.append(f"connectors[{index}].mapping ({config.name}): {exc}")
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


_ALWAYS_SET = frozenset({"external_id", "status", "start", "end", "duration_minutes", "timezone"})


def _filled(appointment: NormalizedAppointment, target: str) -> bool:
    owner, _, name = target.rpartition(".")
    holder = getattr(appointment, owner) if owner else appointment
    return holder is not None and getattr(holder, name, None) not in (None, "")


def _map_sample(result: SourceCheck, mapping: CompiledMapping, sample: Sample) -> None:
    result.sample_source, result.sampled = sample.source, len(sample.records) + len(sample.rejected)
    for rejected in sample.rejected:
        result.quarantined[rejected.reason] += 1
    filled: Counter[str] = Counter()
    for record in sample.records:
        try:
            appointment = mapping.apply(record.data)
        except MappingError as exc:
            result.quarantined[f"{exc.field}: {exc.reason}"] += 1
            continue
        except Exception as exc:  # as in a sync: odd input never crashes the check
            result.quarantined[f"unexpected mapping failure ({type(exc).__name__})"] += 1
            continue
        result.mapped += 1
        filled.update(t for t in mapping.preset.fields if t not in _ALWAYS_SET and _filled(appointment, t))
    if result.mapped:
        result.empty_fields = sorted(t for t in mapping.preset.fields if t not in _ALWAYS_SET and not filled[t])


def check_connector(settings: Settings, config: ConnectorSettings, limit: int = SAMPLE_SIZE) -> SourceCheck:
    result = SourceCheck(config.name, config.kind)
    try:
        mapping = connector_mapping(settings, config)
    except ValueError as exc:
        result.problems.append(f"mapping does not load: {exc}")
        return result
    connector = None
    try:
        connector = build_connector(config)
        connector.required_columns = mapping.required_sources()
        reached = connector.check()
        result.reached = reached.detail
        if not reached.ok:
            result.problems.append(reached.detail)
            return result
        sample = connector.sample(limit)
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
    if sample is None:
        result.note = ("nothing to sample (no file waiting or archived, or a listener-only source): the mapping "
                       "was not compared with the source")
        return result
    if sample.columns is not None:
        result.findings = audit_columns(mapping.preset, sample.columns, own_fields(config.mapping, settings.base_dir))
    else:
        records = [r.data for r in sample.records]
        result.findings = audit_paths(mapping.preset, records, _UNIT.get(config.kind, "record"))
    _map_sample(result, mapping, sample)
    if not sample.records and not sample.rejected:
        result.note = "the source returned no records in its window: only its columns were compared"
    return result
