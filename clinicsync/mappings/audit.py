"""Does a mapping read what the source really has? Compares the paths a preset names
with a sample of the source (``clinicsync check``). Pure: no I/O, no patient data in
the findings (only column names, path names and field names).

Flat sources (CSV header, SQL result set) know their columns exactly, so a column the
mapping reads and the source lacks is an error — unless the field comes from a shipped
preset (a superset of a known export format, whose optional columns a given export may
leave out) and no real column looks like it. Nested sources (FHIR resources, HL7
messages) leave optional elements out of a resource, so a path that resolves on none of
the samples is only a warning — unless a real key next to it looks like a misspelling
of it, which is an error.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from clinicsync.mappings.paths import compile_values, split_path, top_column
from clinicsync.mappings.preset_schema import MappingPreset

Level = Literal["error", "warning"]
_CUTOFF = 0.75  # difflib ratio: 'specialtyy'/'specialty' 0.95, 'end'/'send' 0.86, 'type'/'time' 0.5


@dataclass(frozen=True)
class Finding:
    level: Level
    field: str  # the mapping's target, e.g. "type" or "patient.phone"
    path: str  # the path as written in the mapping
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"level": self.level, "field": self.field, "path": self.path, "message": self.message}


def field_paths(preset: MappingPreset) -> list[tuple[str, str]]:
    """Every (target, path) a preset reads: ``from`` (each alternative), ``concat``, ``date``/``time``."""
    pairs: list[tuple[str, str]] = []
    for target, spec in preset.fields.items():
        paths: list[str] = []
        if spec.from_ is not None:
            paths += [spec.from_] if isinstance(spec.from_, str) else list(spec.from_)
        paths += list(spec.concat or [])
        paths += [p for p in (spec.date, spec.time) if p is not None]
        pairs += [(target, path) for path in paths]
    return pairs


def column_of(path: str) -> str:
    """The top-level column a flat-row path reads: ``start`` -> start, ``a.b[0]`` -> a,
    ```sched.Start Date``` -> sched.Start Date."""
    return top_column(path)


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The closest real name, if one is close enough to be a misspelling."""
    found = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=_CUTOFF)
    if not found:  # case only ("Specialty" for "specialty") scores low in difflib
        lowered = {c.lower(): c for c in candidates}
        return lowered.get(name.lower())
    return found[0]


def _hint(near: str | None) -> str:
    return f"; did you mean {near!r}?" if near else ""


def audit_columns(preset: MappingPreset, columns: Sequence[str], own_fields: frozenset[str]) -> list[Finding]:
    """Findings for a flat source whose columns are known (CSV header, SQL result set).

    ``own_fields``: the targets the site's own mapping file defines (not inherited from a
    shipped preset): a column those name must exist."""
    present = set(columns)
    pairs = field_paths(preset)
    read = {column_of(path) for _, path in pairs}
    unread = [c for c in columns if c not in read]
    found_for = {target for target, path in pairs if column_of(path) in present}
    findings: list[Finding] = []
    for target, path in pairs:
        column = column_of(path)
        if column in present:
            continue
        spec = preset.fields[target]
        near = suggest(column, unread)
        where = f"field {target!r} reads column {column!r}, which the source does not have"
        if near is not None or spec.required or (target in own_fields and target not in found_for):
            findings.append(Finding("error", target, path, f"{where}{_hint(near)} (it has {list(columns)})"))
        else:
            stays = ("another of its paths has it" if target in found_for
                     else "its default applies" if spec.default is not None else "it stays empty")
            findings.append(Finding("warning", target, path, f"{where}; {stays}"))
    return findings


def _keys(values: Iterable[Any]) -> set[str]:
    keys: set[str] = set()
    for value in values:
        parts = getattr(value, "parts", None)  # an HL7 value opens by component number
        if isinstance(parts, Mapping):
            keys.update(str(k) for k in parts)
        elif isinstance(value, Mapping):
            keys.update(str(k) for k in value)
    return keys


def _near_key(path: str, records: Sequence[Mapping[str, Any]]) -> tuple[str, str | None]:
    """The first segment of ``path`` that resolves on no record, and a real key beside it
    that looks like a misspelling of it (or None)."""
    segments = split_path(path)
    for depth in range(len(segments)):
        prefix = ".".join(segments[: depth + 1])
        if any(compile_values(prefix)(record) for record in records):
            continue
        name = segments[depth].split("[", 1)[0]
        if depth == 0:
            beside = _keys(records)
        else:
            parent = compile_values(".".join(segments[:depth]))
            beside = _keys(v for record in records for v in parent(record))
        if not name or name in beside:
            return segments[depth], None  # the key exists; a filter or index found nothing
        near = suggest(name, beside)
        if near is not None and near.lstrip("_") == name.lstrip("_"):
            near = None  # FHIR's `_start` holds the extensions of `start`: its own optional element
        return segments[depth], near
    return path, None


def audit_paths(preset: MappingPreset, records: Sequence[Mapping[str, Any]], kind: str) -> list[Finding]:
    """Findings for a nested source (FHIR resources, HL7 messages), from sample records."""
    if not records:
        return []
    pairs = field_paths(preset)
    found = {path for _, path in pairs if any(compile_values(path)(record) for record in records)}
    answered = {target for target, path in pairs if path in found}  # one of its paths has a value
    findings: list[Finding] = []
    absent: dict[str, list[str]] = {}  # optional field -> its paths that found nothing
    for target, path in pairs:
        if path in found:
            continue
        segment, near = _near_key(path, records)
        where = f"field {target!r}: path {path!r} finds nothing in {len(records)} sample {kind}(s)"
        if near is not None:
            findings.append(Finding("error", target, path, f"{where}; {segment!r} looks misspelt{_hint(near)}"))
        elif target in answered:
            continue  # another of its paths has the value: an alternative for other senders
        elif preset.fields[target].required:
            findings.append(Finding("error", target, path, f"{where} and the field is required"))
        else:
            absent.setdefault(target, []).append(path)
    # An optional field is one warning however many alternative paths it has (hl7v2_siu's
    # patient.email tries eight): the admin learns the field is empty, not eight times over.
    for target, paths in absent.items():
        where = (f"field {target!r}: path {paths[0]!r} finds nothing" if len(paths) == 1 else
                 f"field {target!r}: none of its {len(paths)} paths ({', '.join(paths)}) finds anything")
        sample = f"{len(records)} sample {kind}(s)"
        note = f"{where} in {sample} (optional here, or absent in this sample)"
        findings.append(Finding("warning", target, paths[0], note))
    return findings
