"""The declarative mapping engine: a preset (YAML) compiles once into a pure
function from a raw record to a NormalizedAppointment, or a MappingError."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mappings.model import (
    STATUSES,
    MappingError,
    NormalizedAppointment,
    NormalizedPatient,
    NormalizedPractitioner,
)
from mappings.paths import compile_path, compile_values
from mappings.timeutil import TimeError, to_utc, zone
from mappings.transforms import TransformError, combine_date_time, transform_for

PRESETS_DIR = Path(__file__).parent
_PATIENT_FIELDS = {"external_id", "name", "phone", "email", "language", "channel", "allow_sms", "allow_email"}
_PRACTITIONER_FIELDS = {"external_id", "name", "email"}
TARGETS = frozenset(
    {"external_id", "status", "start", "end", "duration_minutes", "timezone", "type", "location",
     "source_updated_at"}
    | {f"patient.{f}" for f in _PATIENT_FIELDS}
    | {f"practitioner.{f}" for f in _PRACTITIONER_FIELDS}
)
_DEFAULT_TYPES = {
    "start": "datetime", "end": "datetime", "source_updated_at": "datetime", "duration_minutes": "integer",
    "patient.phone": "phone", "patient.email": "email", "patient.language": "language",
    "patient.channel": "channel", "practitioner.email": "email",
    "patient.allow_sms": "boolean", "patient.allow_email": "boolean",
}


# The store's column sizes. An identifier that does not fit cannot be cut without
# colliding with another, so it is refused; free text is shortened.
_ID_LIMIT = 255
_TEXT_LIMITS = {"type": 255, "location": 255, "patient.name": 255, "practitioner.name": 255}


def _fit(target: str, value: str) -> str:
    if target.endswith("external_id") and len(value) > _ID_LIMIT:
        raise TransformError(f"longer than {_ID_LIMIT} characters")
    limit = _TEXT_LIMITS.get(target)
    if limit is not None and len(value) > limit:
        return value[: limit - 1] + "…"
    return value


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | list[str] | None = Field(None, alias="from", description="path, or paths tried in order")
    concat: list[str] | None = Field(
        None, description="paths whose values (every value of a list) are joined with a space; "
                          "with from: the fallback when no from path has a value")
    date: str | None = Field(None, description="path of a date; with `time:` read as one local date-time")
    time: str | None = Field(None, description="path of a time of day, combined with `date:`")
    value: Any = Field(None, description="a constant")
    type: str | None = None
    map: dict[str, Any] | None = Field(None, description="value map, matched case-insensitively")
    default: Any = None
    required: bool = False
    on_invalid: Literal["quarantine", "drop"] = Field(
        "quarantine", description="quarantine the record, or drop just this value (e.g. an unusable language)")

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        if (self.date is None) != (self.time is None):
            raise ValueError("`date:` and `time:` go together")
        # from + concat is allowed: concat is then the fallback when no from path has a value.
        given = [k for k, v in (("from/concat", self.from_ or self.concat), ("date", self.date),
                                ("value", self.value)) if v is not None]
        if len(given) > 1:
            raise ValueError(f"give one of from (with concat)/date+time/value, not {' and '.join(given)}")
        return self


class MappingPreset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    extends: str | None = None
    datetime_formats: list[str] = Field(default_factory=list)
    status_map: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, FieldSpec] = Field(default_factory=dict)


@dataclass(frozen=True)
class _CompiledField:
    target: str
    read: Callable[[Any], Any]
    convert: Callable[[Any], Any] | None
    default: Any
    required: bool
    drop_invalid: bool


def _reader(spec: FieldSpec) -> Callable[[Any], Any]:
    """``date`` + ``time``; else ``from`` (paths tried in order), then ``concat`` as the
    fallback; else ``value``."""
    if spec.date is not None and spec.time is not None:
        get_date, get_time = compile_path(spec.date), compile_path(spec.time)

        def date_time(record: Any) -> Any:
            day, clock = get_date(record), get_time(record)
            if day in (None, "") or clock in (None, ""):
                return None
            return combine_date_time(day, clock)

        return date_time
    readers: list[Callable[[Any], Any]] = []
    if spec.from_ is not None:
        paths = [spec.from_] if isinstance(spec.from_, str) else spec.from_
        readers.extend(compile_path(p) for p in paths)
    if spec.concat:
        value_lists = [compile_values(p) for p in spec.concat]

        def join(record: Any) -> Any:
            parts = [str(v).strip() for values in value_lists for v in values(record)]
            return " ".join(p for p in parts if p) or None

        readers.append(join)
    if not readers:
        constant = spec.value
        return lambda _record: constant
    if len(readers) == 1:
        return readers[0]

    def first(record: Any) -> Any:
        for read in readers:
            value = read(record)
            if value not in (None, ""):
                return value
        return None

    return first


def _value_mapper(table: dict[str, Any]) -> Callable[[Any], Any]:
    lowered = {str(k).strip().lower(): v for k, v in table.items()}

    def convert(value: Any) -> Any:
        key = str(value).strip().lower()
        if key not in lowered:
            raise TransformError("value not in the mapping's value map")
        return lowered[key]

    return convert


class CompiledMapping:
    """A compiled preset. ``apply`` is pure: the same record gives the same result."""

    def __init__(self, preset: MappingPreset, clinic_timezone: str, default_region: str) -> None:
        self.preset = preset
        self.clinic_timezone = clinic_timezone
        zone(clinic_timezone)
        formats = tuple(preset.datetime_formats)
        self.status_map = {k.strip().lower(): v for k, v in preset.status_map.items()}
        bad = sorted({v for v in self.status_map.values() if v not in STATUSES})
        if bad:
            raise ValueError(f"mapping {preset.name}: status_map targets {bad} are not FHIR statuses")
        unknown = sorted(set(preset.fields) - TARGETS)
        if unknown:
            raise ValueError(f"mapping {preset.name}: unknown fields {unknown}; known: {sorted(TARGETS)}")
        if "external_id" not in preset.fields:
            raise ValueError(f"mapping {preset.name}: needs an external_id field")
        self.fields: list[_CompiledField] = []
        for target, spec in preset.fields.items():
            kind = spec.type or _DEFAULT_TYPES.get(target, "string")
            type_convert = transform_for(kind, default_region, formats)
            convert = type_convert
            if spec.map is not None:
                mapper = _value_mapper(spec.map)

                def convert(value: Any, _m: Callable[[Any], Any] = mapper,
                            _t: Callable[[Any], Any] = type_convert) -> Any:
                    mapped = _m(value)
                    return None if mapped is None else _t(mapped)

            self.fields.append(_CompiledField(target, _reader(spec), convert, spec.default, spec.required,
                                              spec.on_invalid == "drop"))

    def required_sources(self) -> frozenset[str]:
        """Top-level columns the required fields read: a file without them is unrecognizable."""
        columns: set[str] = set()
        for spec in self.preset.fields.values():
            if spec.required and isinstance(spec.from_, str):
                columns.add(spec.from_.split(".")[0].split("[")[0])
        return frozenset(columns)

    def peek_id(self, record: Mapping[str, Any]) -> str | None:
        """The record's id as read, for naming a record that failed to map."""
        for field in self.fields:
            if field.target == "external_id":
                value = field.read(record)
                return str(value) if value not in (None, "") else None
        return None

    def _extract(self, record: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field in self.fields:
            try:
                raw = field.read(record)
                if raw in (None, "") or (isinstance(raw, str) and not raw.strip()):
                    if field.required:
                        raise MappingError(field.target, "missing (required)")
                    if field.default is not None:
                        values[field.target] = field.default
                    continue
                value = field.convert(raw) if field.convert else raw
                values[field.target] = _fit(field.target, value) if isinstance(value, str) else value
            except TransformError as exc:
                if not field.drop_invalid or field.required:
                    raise MappingError(field.target, str(exc)) from None
                if field.default is not None:  # an unusable value counts as absent
                    values[field.target] = field.default
        return values

    def _status(self, value: Any) -> str:
        if value is None:
            return "booked"
        key = str(value).strip().lower()
        if key in self.status_map:
            return self.status_map[key]
        if key in STATUSES:
            return key
        raise MappingError("status", "unknown status word (add it to the mapping's status_map)")

    def apply(self, record: Mapping[str, Any]) -> NormalizedAppointment:
        values = self._extract(record)
        external_id = values.get("external_id")
        if not external_id:
            raise MappingError("external_id", "missing")
        tz_name = values.get("timezone") or self.clinic_timezone
        try:
            zone(tz_name)
        except TimeError:  # the reason never repeats the value: a shifted column may hold PHI
            raise MappingError("timezone", "unknown IANA time zone (e.g. America/Chicago)") from None
        start_raw = values.get("start")
        if start_raw is None:
            raise MappingError("start", "missing")
        try:
            start = to_utc(start_raw, tz_name)
        except TimeError as exc:
            raise MappingError("start", str(exc)) from None
        end_raw = values.get("end")
        if end_raw is not None:
            try:
                end = to_utc(end_raw, tz_name)
            except TimeError as exc:
                raise MappingError("end", str(exc)) from None
        elif values.get("duration_minutes") is not None:
            try:
                end = start + timedelta(minutes=values["duration_minutes"])
            except OverflowError:
                raise MappingError("duration_minutes", "out of range") from None
        else:
            raise MappingError("end", "missing: give end or duration_minutes")
        if end <= start:
            raise MappingError("end", "is not after start")
        updated = values.get("source_updated_at")
        try:
            updated_utc = to_utc(updated, "UTC") if isinstance(updated, datetime) else None
        except TimeError as exc:
            raise MappingError("source_updated_at", str(exc)) from None
        return NormalizedAppointment(
            external_id=str(external_id),
            status=self._status(values.get("status")),
            start=start,
            end=end,
            timezone=tz_name,
            type=values.get("type"),
            location=values.get("location"),
            patient=_patient(values),
            practitioner=_practitioner(values),
            source_updated_at=updated_utc,
        )


def _patient(values: dict[str, Any]) -> NormalizedPatient | None:
    fields = {f: values[f"patient.{f}"] for f in _PATIENT_FIELDS if f"patient.{f}" in values}
    if "external_id" not in fields:
        if len(fields) > 0 and any(k in fields for k in ("phone", "email", "name")):
            raise MappingError("patient.external_id", "missing while other patient fields are given")
        return None
    fields["external_id"] = str(fields["external_id"])
    return NormalizedPatient(**fields)


def _practitioner(values: dict[str, Any]) -> NormalizedPractitioner | None:
    fields = {f: values[f"practitioner.{f}"] for f in _PRACTITIONER_FIELDS if f"practitioner.{f}" in values}
    if "external_id" not in fields:
        if "email" in fields:
            fields["external_id"] = fields["email"]
        else:
            return None
    fields["external_id"] = str(fields["external_id"])
    return NormalizedPractitioner(**fields)





def _read_preset_data(ref: str, base_dir: Path) -> dict[str, Any]:
    looks_like_file = ref.endswith((".yaml", ".yml")) or "/" in ref
    path = (base_dir / ref) if looks_like_file else PRESETS_DIR / f"{ref}.yaml"
    if not path.is_file():
        presets = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
        hint = f"no such file {path}" if looks_like_file else f"no preset {ref!r} (presets: {presets})"
        raise ValueError(f"mapping {ref!r}: {hint}")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"mapping {ref!r}: {path} is not a YAML mapping")
    parent = data.get("extends")
    if parent:
        base = _read_preset_data(str(parent), base_dir)
        data = {
            **base, **data,
            "fields": {**base.get("fields", {}), **data.get("fields", {})},
            "status_map": {**base.get("status_map", {}), **data.get("status_map", {})},
        }
    return data


def load_mapping(ref: str, clinic_timezone: str, default_region: str, base_dir: Path = Path(".")) -> CompiledMapping:
    """Load a preset by name (mappings/NAME.yaml) or a site's own file, and compile it."""
    data = _read_preset_data(ref, base_dir)
    try:
        preset = MappingPreset.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"mapping {ref!r}: {problems}") from None
    return CompiledMapping(preset, clinic_timezone, default_region)
