"""The declarative mapping engine: a preset (YAML) compiles once into a pure
function from a raw record to a NormalizedAppointment, or a MappingError.

A field with several ``from:`` paths (and ``concat:`` as the last resort) takes the first
that gives a usable value: an empty value, one the value ``map`` turns into null, or
(with ``on_invalid: drop``) one that does not convert, passes over to the next.

The rule for unusable data: what an appointment cannot exist without (its id, start, end,
status, zone, and the ids of its patient and practitioner) quarantines the record; any
other field defaults to ``on_invalid: drop``, so one odd phone number or vendor language
code never keeps a patient's appointments out of the calendar. A dropped value leaves a
data-quality note on the appointment (``NormalizedAppointment.notes``) naming the field
and the problem, shown with the appointment instead of in the quarantine.

One file of about 900 lines, on purpose: the preset's schema (``FieldSpec``,
``MappingPreset``), its compilation (``CompiledMapping``) and its loading (``load_mapping``)
meet in one rule, that a preset which does not load fails with one line naming its file, line
and key; the loader turns the compiler's ``MappingProblem`` into that line through the preset's
origins, and the compiled mapping's memo is keyed by the merged text the loader read. The
preset files' reading (``extends`` merged, YAML read with its line numbers) lives in
preset_files.py, the generated code in codegen.py, the value converters in transforms.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from clinicsync.common.memo import kept
from clinicsync.common.timeutil import TimeError, zone
from clinicsync.common.vocabulary import STATUSES, fhir_status
from clinicsync.mappings.codegen import generate
from clinicsync.mappings.model import (
    MappingError,
    MappingLoadError,
    NormalizedAppointment,
    NormalizedPatient,
    NormalizedPractitioner,
    quoted_code,
    quoted_status,
    quoted_zone,
)
from clinicsync.mappings.paths import compile_path, compile_values, top_column
from clinicsync.mappings.preset_files import Origin, merged_preset, owner_of, suggestion
from clinicsync.mappings.transforms import (
    TransformError,
    clean_text,
    combine_date_minutes,
    combine_date_time,
    split_phone,
    transform_for,
)
from clinicsync.mappings.window import DEFAULT_WINDOW, PlausibleWindow, plausible_utc

_PATIENT_FIELDS = {"external_id", "name", "phone", "email", "language", "channel", "allow_sms", "allow_email"}
_PRACTITIONER_FIELDS = {"external_id", "name", "email"}
TARGETS = frozenset(
    {"external_id", "status", "start", "end", "duration_minutes", "timezone", "type", "location",
     "source_updated_at", "answer", "visit_mode", "join_url", "provider_join_url", "dial_in",
     "cancel_reason", "booked_at", "replaces"}
    | {f"patient.{f}" for f in _PATIENT_FIELDS}
    | {f"practitioner.{f}" for f in _PRACTITIONER_FIELDS}
)
_DEFAULT_TYPES = {
    "start": "datetime", "end": "datetime", "source_updated_at": "datetime", "booked_at": "datetime",
    "duration_minutes": "integer",
    "patient.phone": "phone", "patient.email": "email", "patient.language": "language",
    "patient.channel": "channel", "practitioner.email": "email", "answer": "answer",
    "patient.allow_sms": "boolean", "patient.allow_email": "boolean", "timezone": "timezone",
    "visit_mode": "visit_mode", "join_url": "url", "provider_join_url": "url", "dial_in": "phone",
}


# Fields an appointment cannot be stored or scheduled without: an unusable value here
# quarantines the record. Every other field is optional (dropped with a note).
CORE_FIELDS = frozenset({"external_id", "status", "start", "end", "duration_minutes", "timezone",
                         "patient.external_id", "practitioner.external_id"})
_QUOTE_LIMIT = 40


def quoted(value: Any, enabled: bool) -> str:
    """`` 'value'`` (clipped) for a field the mapping marks ``quote: true`` (its values are
    codes the source sends, such as FHIR's status or a language code), else nothing: a
    reason or note names a value only where it cannot be patient data. Even a marked field
    shows only what has a code's shape (``quoted_code``): a vendor that puts a name or a
    phone where its status belongs must not have it echoed."""
    if not enabled:
        return ""
    text = str(value).strip()
    if len(text) > _QUOTE_LIMIT:
        text = text[:_QUOTE_LIMIT - 1] + "…"
    return f" {quoted_code(text)}"


# The key under which a connector hands its own data-quality notes on a raw record (e.g.
# "practitioner: read answered 403, name from the appointment's display").
CONNECTOR_NOTES = "_notes"


# The store's column sizes. An identifier that does not fit cannot be cut without
# colliding with another, so it is refused; free text is shortened.
_ID_LIMIT = 255
_TEXT_LIMITS = {"type": 255, "location": 255, "cancel_reason": 255, "patient.name": 255, "practitioner.name": 255}


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
    column: str | list[str] | None = Field(
        None, description="a column name taken as written (dots, brackets, spaces and all), or names tried "
                          "in order: for flat rows whose names the path language would split")
    concat: list[str] | None = Field(
        None, description="paths whose values (every value of a list) are joined with a space; "
                          "with from: the fallback when no from path has a usable value")
    date: str | None = Field(None, description="path of a date; with `time:` read as one local date-time")
    time: str | None = Field(None, description="path of a time of day, combined with `date:`")
    time_unit: Literal["clock", "minutes"] = Field(
        "clock", description="what `time:` holds: a time of day (clock), or whole minutes since that day's "
                             "midnight (minutes: 540 is 09:00, as booking plugins keep it)")
    value: Any = Field(None, description="a constant")
    type: str | None = None
    map: dict[str, Any] | None = Field(
        None, description="value map, matched case-insensitively; null passes over to the next path")
    default: Any = None
    required: bool = False
    fix: str | None = Field(None, description="how to fix a record that lacks this required field, "
                                              "added to its quarantine reason")
    quote: bool = Field(False, description="the values are codes, never patient data: a quarantine reason "
                                           "or a data-quality note may name them")
    fallback: FieldSpec | None = Field(
        None, description="read (its own from/map; the field's type unless it gives its own) when this field's "
                          "paths give no usable value; when a value was dropped for it, the appointment gets a "
                          "note, and without a fallback value the record is quarantined with the dropped value's "
                          "reason; a fallback value the type cannot read is named in a note (or the reason)")
    on_invalid: Literal["quarantine", "drop"] | None = Field(
        None, description="quarantine the record, or drop just this value (the next path is tried; with "
                          "none left the field is absent and the appointment carries a data-quality note). "
                          "Default: quarantine for required and core fields (id, status, times, zone), "
                          "drop for every other field")

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        if (self.date is None) != (self.time is None):
            raise ValueError("`date:` and `time:` go together")
        if self.time_unit != "clock" and self.time is None:
            raise ValueError("`time_unit:` says what `time:` holds: give it with `date:` and `time:`")
        # from + concat is allowed: concat is then the fallback when no from path has a value.
        given = [k for k, v in (("from/concat", self.from_ or self.concat), ("column", self.column),
                                ("date", self.date), ("value", self.value)) if v is not None]
        if len(given) > 1:
            raise ValueError(f"give one of from (with concat)/column/date+time/value, not {' and '.join(given)}")
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
    reads: tuple[Callable[[Any], Any], ...]  # tried in order
    convert: Callable[[Any], Any] | None
    default: Any
    required: bool
    drop_invalid: bool
    fitted: bool = False  # has a column limit (see _fit)
    fix: str | None = None  # added to the reason when a required value is missing
    quote: bool = False  # its values are codes: reasons and notes may name them
    fallback: _CompiledField | None = None  # read when the paths give no usable value
    fallback_paths: str = ""  # for the note: where the fallback read
    # What the generated code (codegen.py) needs besides: the readers as data (see _sources),
    # the type's conversion before memoizing, the type's name, and whether a value map applies.
    sources: tuple[tuple[Any, ...], ...] = ()
    transform: Callable[[Any], Any] | None = None
    kind: str = "string"
    mapped: bool = False


# Conversions worth remembering per distinct raw value: a feed repeats each patient's
# phone and email on every one of their appointments, and parsing a phone costs ~100 µs;
# a zone name repeats on every row.
_MEMOIZED_KINDS = frozenset({"phone", "email", "timezone"})
_MEMO_LIMIT = 65_536  # distinct values kept per field; the memo starts over past that


def _remembering(convert: Callable[..., Any], failure: type[ValueError],
                 limit: int = _MEMO_LIMIT) -> Callable[..., Any]:
    """``convert`` (pure) remembered per distinct arguments, its ``failure`` included (kept as
    the message and raised anew, so no traceback grows); the memo starts over past ``limit``
    entries."""
    memo: dict[tuple[Any, ...], tuple[bool, Any]] = {}

    def remembered(*key: Any) -> Any:
        known = memo.get(key)
        if known is None:
            try:
                known = (True, convert(*key))
            except failure as exc:
                known = (False, str(exc))
            kept(memo, key, known, limit)
        if known[0]:
            return known[1]
        raise failure(known[1])

    return remembered


# Many appointments share a slot and slots come roughly in order: the recent ones will do.
_UTC_MEMO_LIMIT = 8_192


class _RememberedUtc:
    """``plausible_utc(window)`` remembered per date-time, zone and UTC offset. The offset is
    in the key because two aware date-times of one instant at other offsets are equal (and
    hash alike) while their wall dates differ, and the window judges the wall date: without
    it, 2199-12-31T23:30Z seen first let 2200-01-01T00:30+01:00 (refused alone) through.
    The generated code (codegen.py) looks ``memo`` up itself and hands a miss to ``known``:
    a start and an end per row, one C lookup each instead of a call."""

    def __init__(self, window: PlausibleWindow) -> None:
        self.memo: dict[tuple[Any, str, Any], tuple[bool, Any]] = {}
        self._convert = plausible_utc(window)

    def known(self, key: tuple[Any, str, Any]) -> tuple[bool, Any]:
        """The entry for ``key`` (value, zone name, the value's UTC offset): (True, the UTC
        date-time) or (False, the TimeError's message); made and kept on a miss."""
        known = self.memo.get(key)
        if known is None:
            try:
                known = (True, self._convert(key[0], key[1]))
            except TimeError as exc:
                known = (False, str(exc))
            kept(self.memo, key, known, _UTC_MEMO_LIMIT)
        return known

    def __call__(self, value: Any, zone_name: str) -> datetime:
        known = self.known((value, zone_name, value.utcoffset() if isinstance(value, datetime) else None))
        if known[0]:
            return cast(datetime, known[1])
        raise TimeError(known[1])


def _memoized(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A field conversion remembered per distinct text value (other values are converted each time)."""
    remembered = _remembering(convert, TransformError)

    def per_text(value: Any) -> Any:
        return remembered(value) if type(value) is str else convert(value)

    return per_text


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _joined(paths: list[str]) -> Callable[[Any], Any]:
    """Every value at each path (all of a list, e.g. FHIR `given` names), joined with spaces."""
    value_lists = [compile_values(p) for p in paths]

    def join(record: Any) -> Any:
        parts = [str(v).strip() for values in value_lists for v in values(record)]
        return " ".join(p for p in parts if p) or None

    return join


def _date_time(date_path: str, time_path: str, unit: str = "clock") -> Callable[[Any], Any]:
    get_date, get_time = compile_path(date_path), compile_path(time_path)
    combine = combine_date_minutes if unit == "minutes" else combine_date_time

    def date_time(record: Any) -> Any:
        day, clock = get_date(record), get_time(record)
        if _empty(day) or _empty(clock):
            return None
        return combine(day, clock)

    return date_time


def _readers(spec: FieldSpec) -> tuple[Callable[[Any], Any], ...]:
    """``date`` + ``time``; else ``from`` paths in order, then ``concat`` as the fallback;
    else ``value``. The engine tries them in order until one gives a usable value."""
    if spec.date is not None and spec.time is not None:
        return (_date_time(spec.date, spec.time, spec.time_unit),)
    readers: list[Callable[[Any], Any]] = []
    if spec.column is not None:
        names = [spec.column] if isinstance(spec.column, str) else spec.column
        readers.extend(compile_path(f"`{n}`") for n in names)
    if spec.from_ is not None:
        paths = [spec.from_] if isinstance(spec.from_, str) else spec.from_
        readers.extend(compile_path(p) for p in paths)
    if spec.concat:
        readers.append(_joined(spec.concat))
    if not readers:
        constant = spec.value
        readers.append(lambda _record: constant)
    return tuple(readers)


def _sources(spec: FieldSpec) -> tuple[tuple[Any, ...], ...]:
    """What ``_readers`` reads, as data, in the same order: ("path", path), ("concat",
    paths), ("date_time", date path, time path) or ("value", constant)."""
    if spec.date is not None and spec.time is not None:
        return (("date_time", spec.date, spec.time),)
    sources: list[tuple[Any, ...]] = []
    if spec.column is not None:
        names = [spec.column] if isinstance(spec.column, str) else spec.column
        sources.extend(("path", f"`{n}`") for n in names)
    if spec.from_ is not None:
        paths = [spec.from_] if isinstance(spec.from_, str) else spec.from_
        sources.extend(("path", p) for p in paths)
    if spec.concat:
        sources.append(("concat", tuple(spec.concat)))
    if not sources:
        sources.append(("value", spec.value))
    return tuple(sources)


def _value_mapper(table: dict[str, Any], target: str, quote: bool, lenient: bool = False) -> Callable[[Any], Any]:
    """``lenient`` (a fallback's map): a word not in the table is no value, passed over quietly
    as a null in the table is; only the type's conversion is then a reason to say anything."""
    lowered = {str(k).strip().lower(): v for k, v in table.items()}

    def convert(value: Any) -> Any:
        key = str(value).strip().lower()
        if key not in lowered:
            if lenient:
                return None
            raise TransformError(f"value{quoted(value, quote)} not in the mapping's value map "
                                 f"(add it under `{target}: map:` in a site mapping that extends this one)")
        return lowered[key]

    return convert


class MappingProblem(ValueError):
    """A preset that does not compile, with the key it is about (``("fields", "timezone",
    "default")``): ``load_mapping`` turns the key into the file and line that wrote it."""

    def __init__(self, message: str, loc: tuple[str, ...]) -> None:
        super().__init__(message)
        self.loc = loc


# Why a record without an end, a length or the clinic's default length is quarantined, and the fix.
_NO_END = "missing: give end or duration_minutes (or set clinic.default_visit_minutes)"


class CompiledMapping:
    """A compiled preset. ``apply`` is pure: the same record gives the same result."""

    def __init__(self, preset: MappingPreset, clinic_timezone: str, default_region: str,
                 window: PlausibleWindow = DEFAULT_WINDOW, stored_times: str = "local",
                 place_zones: tuple[tuple[str, str | None], ...] = (), default_minutes: int | None = None) -> None:
        """``clinic_timezone``: the visits' zone when the record gives none (the connector's
        ``timezone:``, else the clinic's). ``stored_times``: ``local``, naive date-times are
        wall clock in the visit's zone; ``utc``, they are UTC instants and the visit's zone is
        the record's, else its location's in ``place_zones`` (clinic.places), else
        ``clinic_timezone`` (the source's time convention is not the visit's zone).
        ``default_minutes``: clinic.default_visit_minutes, the length of a visit whose record
        gives neither end nor length, with a note on it (a visit is not refused for a length the
        clinic knows); None: such a record is quarantined."""
        self.preset = preset
        self.default_minutes = default_minutes
        self.default_note = (f"end: missing: clinic.default_visit_minutes ({default_minutes} min) used"
                             if default_minutes is not None else "")
        self.window = window
        self.clinic_timezone = clinic_timezone
        zone(clinic_timezone)
        if stored_times not in ("local", "utc"):
            raise MappingLoadError(f"stored_times {stored_times!r}: give local or utc")
        self.stored_times = stored_times
        # Only for a source that stores UTC, and only when a place names a zone (then every
        # place counts: a listed place without one does not take the '*' entry's).
        self.place_zones = place_zones if stored_times == "utc" and any(z for _, z in place_zones) else ()
        self.place_zone = place_zone_lookup(self.place_zones)
        formats = tuple(preset.datetime_formats)
        self.status_map = {k.strip().lower(): v for k, v in preset.status_map.items()}
        bad = sorted({v for v in self.status_map.values() if v not in STATUSES})
        if bad:
            word = next(k for k, v in preset.status_map.items() if v == bad[0])
            raise MappingProblem(f"mapping {preset.name}: status_map targets {bad} are not FHIR statuses",
                                 ("status_map", word))
        unknown = sorted(set(preset.fields) - TARGETS)
        if unknown:
            raise MappingProblem(f"mapping {preset.name}: unknown fields {unknown}", ("fields", unknown[0]))
        if "external_id" not in preset.fields:
            raise MappingProblem(f"mapping {preset.name}: needs an external_id field", ("fields",))
        self.fields = [self._compile(target, spec, default_region, formats)
                       for target, spec in preset.fields.items()]
        self.stand_in = holds_patient_data(preset.fields)  # the id is a hash of its readable form
        # many appointments share a slot; slots come roughly in order, so the recent ones will do.
        # A start or end outside the plausible window is refused here, for both engines.
        self._utc = _RememberedUtc(window)
        self._generated, self.source = generate(self, _RUNTIME)
        self._texts: Callable[[Mapping[str, Any]], NormalizedAppointment] | None = None  # applier(texts=True)'s

    def _compile(self, target: str, spec: FieldSpec, default_region: str, formats: tuple[str, ...],
                 lenient_map: bool = False) -> _CompiledField:
        kind = spec.type or _DEFAULT_TYPES.get(target, "string")
        type_convert = transform_for(kind, default_region, formats)
        if kind in _MEMOIZED_KINDS:
            type_convert = _memoized(type_convert)
        convert = type_convert
        if spec.map is not None:
            mapper = _value_mapper(spec.map, target, spec.quote, lenient_map)

            def convert(value: Any, _m: Callable[[Any], Any] = mapper,
                        _t: Callable[[Any], Any] = type_convert) -> Any:
                mapped = _m(value)
                return None if mapped is None else _t(mapped)

        on_invalid = spec.on_invalid or ("quarantine" if spec.required or target in CORE_FIELDS else "drop")
        fallback = None
        fallback_paths = ""
        if spec.fallback is not None:
            # The fallback's value is this field's value: converted by the field's own `type:`
            # unless the fallback names one (a duration read as "50 min" is a duration there too).
            fallback = self._compile(target, spec.fallback.model_copy(
                                                    update={"on_invalid": "drop", "quote": spec.quote,
                                                            "type": spec.fallback.type or spec.type}),
                                                default_region, formats, lenient_map=True)
            given = spec.fallback.from_ or spec.fallback.concat or []
            fallback_paths = ", ".join([given] if isinstance(given, str) else given) or "a constant"
        default = self._checked_default(target, spec, type_convert)
        return _CompiledField(target, _readers(spec), convert, default, spec.required, on_invalid == "drop",
                              target.endswith("external_id") or target in _TEXT_LIMITS, spec.fix, spec.quote,
                              fallback, fallback_paths, _sources(spec), transform_for(kind, default_region, formats),
                              kind, spec.map is not None)

    def _checked_default(self, target: str, spec: FieldSpec, type_convert: Callable[[Any], Any]) -> Any:
        """The field's ``default`` (and a ``value`` constant) checked once here: a bad one
        would otherwise quarantine every record, or store a value nothing can use."""
        where = f"mapping {self.preset.name}: fields.{target}"
        for key, given in (("value", spec.value), ("default", spec.default)):
            if given is None:
                continue
            if target == "timezone":
                try:
                    zone(str(given))
                except TimeError as exc:
                    raise MappingProblem(f"{where}.{key}: {exc} (e.g. America/Chicago)",
                                         ("fields", target, key)) from None
            elif target == "status":
                word = str(given).strip().lower()
                if word not in self.status_map and word not in STATUSES:
                    raise MappingProblem(f"{where}.{key}: {given!r} is neither in status_map nor a FHIR status "
                                         f"({sorted(STATUSES)})", ("fields", target, key))
            elif key == "default":  # a default is a final value: only the type applies, not `map`
                try:
                    return type_convert(given)
                except TransformError as exc:
                    raise MappingProblem(f"{where}.default {given!r}: {exc}", ("fields", target, key)) from None
        return spec.default

    def required_sources(self) -> frozenset[str]:
        """Top-level columns a flat source must have: those the required fields read (one path
        each), and a column named with ``column:`` for the id or the start. A file or query
        without them is a settings error, named before any row is read."""
        columns: set[str] = set()
        for target, spec in self.preset.fields.items():
            if spec.required and isinstance(spec.from_, str):
                columns.add(top_column(spec.from_))
            if isinstance(spec.column, str) and (spec.required or target in ("external_id", "start")):
                columns.add(spec.column)
        return frozenset(columns)

    def id_columns(self) -> tuple[str, ...]:
        """The top-level columns the appointment id is read from (every path and concat part,
        in order): all a delete sweep must read of a row for ``peek_id`` to name it."""
        spec = self.preset.fields["external_id"]
        paths: list[str] = []
        for source in _sources(spec):
            if source[0] == "path":
                paths.append(source[1])
            elif source[0] == "concat":
                paths.extend(source[1])
            elif source[0] == "date_time":
                paths.extend(source[1:])
        return tuple(dict.fromkeys(top_column(p) for p in paths))

    def peek_id(self, record: Mapping[str, Any]) -> str | None:
        """The record's id as the store holds it, for naming a record that failed to map and for
        the listings of delete sweeps and unchanged lines (a stand-in id as its hash, as mapped:
        its readable form holds the patient's name)."""
        for field in self.fields:
            if field.target == "external_id":
                for read in field.reads:
                    value = read(record)
                    if not _empty(value):
                        text = clean_text(str(value))
                        return stand_in_id(text) if self.stand_in else text
        return None

    @staticmethod
    def _value(field: _CompiledField, record: Mapping[str, Any]) -> tuple[Any, bool, str | None, str]:
        """The first usable value of the field's paths, whether any value was there, and (when
        none was usable) the note and the reason for the last value that did not convert."""
        seen = False
        dropped: str | None = None
        reason = ""
        for read in field.reads:
            raw = None
            try:  # a reader may convert too (date + time)
                raw = read(record)
                if _empty(raw):
                    continue
                if type(raw) is str:
                    raw = clean_text(raw)
                seen = True
                value = raw if field.convert is None else field.convert(raw)
            except TransformError as exc:
                seen = True
                if field.drop_invalid:
                    dropped, reason = _dropped_note(field, exc, raw), str(exc)
                    continue
                raise MappingError(field.target, str(exc)) from None
            if value is not None:  # a value map's null: nothing here, try the next path
                return value, seen, None, ""
        return None, seen, dropped, reason

    def _extract(self, record: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
        """Every field's value; a dropped optional value adds its note to ``notes``. The hot
        loop of an import: ``_value`` inlined for the common case of one path, which is the
        same rule for a single reader."""
        values: dict[str, Any] = {}
        for field in self.fields:
            if len(field.reads) == 1 and field.convert is not None and field.fallback is None:
                seen = False
                value = None
                raw = None
                try:
                    raw = field.reads[0](record)
                    if raw is not None and not (isinstance(raw, str) and not raw.strip()):
                        seen = True
                        value = field.convert(clean_text(raw) if type(raw) is str else raw)
                except TransformError as exc:
                    seen = True
                    if not field.drop_invalid:
                        raise MappingError(field.target, str(exc)) from None
                    notes.append(_dropped_note(field, exc, raw))
            else:
                value, seen, dropped, reason = self._value(field, record)
                if value is None and field.fallback is not None:
                    value, _, unusable, why = self._value(field.fallback, record)
                    failed = fallback_failed(field, why) if unusable is not None else None
                    if dropped is not None:
                        if value is None:  # nothing stands in: the dropped value's reason quarantines
                            raise MappingError(field.target, reason if failed is None else f"{reason}; {failed}")
                        dropped += f"; used {value!r} from the fallback ({field.fallback_paths})"
                    elif failed is not None:
                        if field.required:
                            raise MappingError(field.target, failed)
                        dropped = f"{field.target}: {failed}"
                if dropped is not None:
                    notes.append(dropped)
            if value is None:
                if field.required:
                    reason = "no usable value (required)" if seen else "missing (required)"
                    raise MappingError(field.target, f"{reason}: {field.fix}" if field.fix else reason)
                if field.default is not None:
                    values[field.target] = field.default
                continue
            if field.fitted and isinstance(value, str):
                try:
                    value = _fit(field.target, value)
                except TransformError as exc:
                    raise MappingError(field.target, str(exc)) from None
            values[field.target] = value
        return values

    def status_of(self, word: str) -> str | None:
        """The status a source's word maps to (its status_map, a FHIR status, FHIR's word as a
        product spells it: entered_in_error, CheckedIn), or None for a word this mapping does not
        know: what a sync reads, and what `check` asks of words outside the window."""
        key = word.strip().lower()
        if key in self.status_map:
            return self.status_map[key]
        if key in STATUSES:
            return key
        return fhir_status(key)

    def status_read(self, word: str) -> str | None:
        """The status a sync gives a row whose status column holds ``word``, or None when the
        row would be quarantined for it: the status field's own ``map:`` first where it has one
        (a word it lacks is refused; one it maps to null leaves the field's default), then
        ``status_of``. What `check` asks of the words outside the window."""
        field = next((f for f in self.fields if f.target == "status"), None)
        if field is None or not field.mapped or field.convert is None:
            return self.status_of(word)
        try:
            value = field.convert(word)
        except ValueError:  # not in the field's map (TransformError), or its type refuses it
            return None
        if value is None:
            value = field.default
        return "booked" if value is None else self.status_of(str(value))

    def _status(self, value: Any) -> str:
        if value is None:
            return "booked"
        status = self.status_of(str(value))
        if status is not None:
            return status
        # Shown only when it looks like a vocabulary word (no digits, '@' or long phrases), from
        # any source: a shifted CSV column or a mistyped FHIR code may hold patient data.
        shown = " " + quoted_status(value)
        raise MappingError("status", f"unknown status word{shown} (add it to the "
                                     "mapping's status_map, or map it under `status: map:`)")

    def _to_utc(self, value: datetime, tz_name: str, target: str) -> datetime:
        """``to_utc``, remembered per wall-clock time and zone."""
        try:
            result: datetime = self._utc(value, tz_name)
        except TimeError as exc:
            raise MappingError(target, str(exc)) from None
        return result

    def apply(self, record: Mapping[str, Any]) -> NormalizedAppointment:
        """The record mapped by the generated code (codegen.py): the same result as
        ``apply_interpreted``, the reference, at about half the cost."""
        return self._generated(record)

    def applier(self, texts: bool = False) -> Callable[[Mapping[str, Any]], NormalizedAppointment]:
        """``apply`` as one callable for a batch of records: the generated function itself when
        ``apply`` is this class's own (which only calls it: one Python frame a record fewer),
        else ``apply`` as it is (a subclass's, or one a test patched in). ``texts``:
        the caller vouches that every record is a ``dict`` whose values are all exactly ``str``
        (a CSV row): then the code generated for such records (codegen.generate ``texts``, made
        on first use), which skips the type tests that only other records need."""
        apply = self.apply
        if getattr(apply, "__func__", None) is not _OWN_APPLY:
            return apply
        if not texts:
            return self._generated
        if self._texts is None:
            self._texts = generate(self, _RUNTIME, texts=True)[0]
        return self._texts

    def apply_interpreted(self, record: Mapping[str, Any]) -> NormalizedAppointment:
        """The reference engine: the fields interpreted one by one (see ``apply``)."""
        notes: list[str] = []
        values = self._extract(record, notes)
        stated = record.get(CONNECTOR_NOTES)
        if isinstance(stated, (list, tuple)):  # what the connector itself noted (e.g. a stub)
            notes.extend(str(n) for n in stated)
        external_id = values.get("external_id")
        if not external_id:
            raise MappingError("external_id", "missing")
        tz_name = values.get("timezone") or self.place_zone(values.get("location")) or self.clinic_timezone
        try:
            zone(tz_name)
        except TimeError:  # the value only when it looks like a zone name: a shifted column may hold PHI
            raise MappingError("timezone", f"unknown IANA time zone {quoted_zone(tz_name)} "
                                           "(e.g. America/Chicago)") from None
        read_tz = "UTC" if self.stored_times == "utc" else tz_name  # the zone of naive date-times
        start_raw = values.get("start")
        if start_raw is None:
            raise MappingError("start", "missing")
        start = self._to_utc(start_raw, read_tz, "start")
        end_raw = values.get("end")
        if end_raw is not None:
            end = self._to_utc(end_raw, read_tz, "end")
        elif values.get("duration_minutes") is not None:
            try:
                end = start + timedelta(minutes=values["duration_minutes"])
            except OverflowError:
                raise MappingError("duration_minutes", "out of range") from None
        elif self.default_minutes is not None:
            end = start + timedelta(minutes=self.default_minutes)
            notes.append(self.default_note)
        else:
            raise MappingError("end", _NO_END)
        if end <= start:
            raise MappingError("end", "is not after start")
        updated = values.get("source_updated_at")
        former = None
        if self.stand_in:
            former, external_id = str(external_id), stand_in_id(str(external_id))
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
            source_updated_at=_updated_utc(updated, read_tz),
            notes=tuple(notes),
            answer=values.get("answer"),
            **_telehealth(values),
            cancel_reason=values.get("cancel_reason"),
            booked_at=_booked_utc(values.get("booked_at"), read_tz),
            replaces=_replaced(values.get("replaces"), external_id),
            former_id=former,
        )


# The class's own ``apply``, as defined (CompiledMapping.applier: one patched in later is not it).
_OWN_APPLY = CompiledMapping.apply


def stand_in_id(readable: str) -> str:
    """The id of a visit whose source has no id column, from its readable form (its time,
    patient and doctor joined): a short stable hash, so that no patient's name is the record's
    id (shown in `appointments list`, quarantine items and logs) while the same visit keeps the
    same id on every run. 64 bits: a clash within one source's visits is beyond reach."""
    return "v-" + hashlib.blake2b(readable.encode("utf-8"), digest_size=8).hexdigest()


def holds_patient_data(fields: Mapping[str, Any]) -> bool:
    """Whether the mapping's ``external_id`` is a stand-in joined from columns (``concat`` alone)
    that include one the patient's name, phone, email or id is read from: then it is stored as
    ``stand_in_id`` of that text. A composite key of id columns (two columns a table's key) is
    no patient data and stays as read."""
    spec = fields.get("external_id")
    if spec is None or not spec.concat or spec.from_ or spec.column or spec.date or spec.value is not None:
        return False
    parts = set(spec.concat)
    for target in ("patient.name", "patient.phone", "patient.email", "patient.external_id"):
        other = fields.get(target)
        if other is None:
            continue
        read = set(other.concat or [])
        for source in (other.from_, other.column):
            read.update([source] if isinstance(source, str) else source or [])
        read.update(f"`{name}`" for name in list(read))
        if parts & read:
            return True
    return False


def _replaced(value: Any, external_id: Any) -> str | None:
    """The id of the row a record replaces, as text; None when it names none or itself."""
    if value is None or value == "":
        return None
    text = str(value)
    return None if text == str(external_id) else text


def place_zone_lookup(place_zones: tuple[tuple[str, str | None], ...]) -> Callable[[Any], str | None]:
    """The zone of a record's location from clinic.places' ``timezone`` (``place_zones``),
    looked up as ClinicSettings.place finds a place: by the location as sent, else the ``"*"``
    entry; a listed place without a zone has none (the ``"*"`` zone is not its zone), nor
    has a visit without a location."""
    zones = dict(place_zones)
    if not any(zones.values()):
        return _no_zone
    every = zones.get("*")

    def place_zone(location: Any) -> str | None:
        if not location:
            return None
        return zones.get(location, every)

    return place_zone


def _no_zone(_location: Any) -> None:
    return None


def _telehealth(values: dict[str, Any]) -> dict[str, Any]:
    """The visit mode and its links. A link or dial-in without a mode implies one (a join
    link: video; only a number: phone), so a CSV with just a `join_url` column works."""
    mode = values.get("visit_mode")
    join_url, provider_url, dial_in = (values.get("join_url"), values.get("provider_join_url"),
                                       values.get("dial_in"))
    if mode is None and (join_url or provider_url):
        mode = "video"
    elif mode is None and dial_in:
        mode = "phone"
    return {"visit_mode": mode, "join_url": join_url, "provider_join_url": provider_url, "dial_in": dial_in}


def fallback_failed(field: _CompiledField, reason: str) -> str:
    """What is said when a field's fallback had a value its type could not read: the setting
    and the type named, the value not (it may be patient data)."""
    kind = field.fallback.kind if field.fallback is not None else field.kind
    return f"fields.{field.target}.fallback ({field.fallback_paths}) gave no usable {kind}: {reason}"


def _dropped_note(field: _CompiledField, exc: TransformError, raw: Any) -> str:
    """The data-quality note for an optional value that was dropped: the field, the problem
    and, for fields marked ``quote``, the value."""
    return f"{field.target}: dropped{quoted(raw, field.quote)} ({exc})"


def _updated_utc(value: Any, tz_name: str) -> datetime | None:
    """A naive update time is read in the record's zone, leniently at daylight-saving
    changes (unlike start/end): it only orders updates, so an hour's doubt is no error."""
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(tz_name))
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59-12:00 is past datetime.max in UTC
        raise MappingError("source_updated_at", "date-time out of range") from None


def _booked_utc(value: Any, tz_name: str) -> datetime | None:
    """The booking time in UTC (a naive one read in the record's zone, leniently); one that
    cannot be placed is no booking time (the record is then judged by when it was first seen)."""
    try:
        return _updated_utc(value, tz_name)
    except MappingError:
        return None


_PATIENT_KEYS = tuple((f"patient.{f}", f) for f in sorted(_PATIENT_FIELDS))
_PRACTITIONER_KEYS = tuple((f"practitioner.{f}", f) for f in sorted(_PRACTITIONER_FIELDS))


def _patient(values: dict[str, Any]) -> NormalizedPatient | None:
    fields = {f: values[key] for key, f in _PATIENT_KEYS if key in values}
    if "external_id" not in fields:
        if len(fields) > 0 and any(k in fields for k in ("phone", "email", "name")):
            raise MappingError("patient.external_id", "missing while other patient fields are given")
        return None
    fields["external_id"] = str(fields["external_id"])
    if "phone" in fields:
        fields["phone"], fallbacks = split_phone(fields["phone"])
        if fallbacks:
            fields["fallback_phones"] = fallbacks
    return NormalizedPatient(**fields)


def _practitioner(values: dict[str, Any]) -> NormalizedPractitioner | None:
    fields = {f: values[key] for key, f in _PRACTITIONER_KEYS if key in values}
    if "external_id" not in fields:
        if "email" in fields:
            fields["external_id"] = fields["email"]
        else:
            return None
    fields["external_id"] = str(fields["external_id"])
    return NormalizedPractitioner(**fields)





def _unknown_fields(data: dict[str, Any], chain: list[Origin]) -> str | None:
    """The first target no appointment has, where it is written and the nearest real one:
    a typo (`patient.phnoe`) in the admin's own file is named in that file, not its preset."""
    fields = data.get("fields")
    unknown = sorted(set(fields) - TARGETS) if isinstance(fields, dict) else []
    if not unknown:
        return None
    first = unknown[0]
    more = f" (also unknown: {', '.join(map(repr, unknown[1:]))})" if unknown[1:] else ""
    hint = suggestion(first, sorted(TARGETS)) or " (the targets are listed in docs/mappings.md)"
    return f"{owner_of(chain, ('fields', first)).where(('fields', first))}: unknown field {first!r}{hint}{more}"


def load_mapping(ref: str, clinic_timezone: str, default_region: str, base_dir: Path = Path("."),
                 window: PlausibleWindow = DEFAULT_WINDOW, stored_times: str = "local",
                 place_zones: tuple[tuple[str, str | None], ...] = (),
                 default_minutes: int | None = None) -> CompiledMapping:
    """Load a preset by name (mappings/NAME.yaml) or a site's own file, and compile it;
    starts and ends outside ``window`` are refused (clinic.plausible_dates). A file that
    does not load is a MappingLoadError of one line naming the file, line and key to fix.
    ``stored_times`` and ``place_zones``: the source's time convention (CompiledMapping)."""
    data, chain, text = merged_preset(ref, base_dir)
    key = (ref, text, clinic_timezone, default_region, window, stored_times, place_zones, default_minutes)
    compiled = _COMPILED.get(key)
    if compiled is None:
        unknown = _unknown_fields(data, chain)
        if unknown:
            raise MappingLoadError(unknown)
        try:
            preset = MappingPreset.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors()
            loc = tuple(map(str, errors[0]["loc"]))
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
            raise MappingLoadError(f"{owner_of(chain, loc).where(loc)}: {problems}") from None
        try:
            compiled = CompiledMapping(preset, clinic_timezone, default_region, window, stored_times, place_zones,
                                       default_minutes)
        except MappingProblem as exc:  # "mapping desk: fields.x…" -> "mapping 'desk' (file, line): fields.x…"
            detail = str(exc).removeprefix(f"mapping {preset.name}: ")
            raise MappingLoadError(f"{owner_of(chain, exc.loc).where(exc.loc)}: {detail}") from None
        if len(_COMPILED) >= 64:
            _COMPILED.clear()
        _COMPILED[key] = compiled
    return compiled


# One compiled mapping per content (the merged YAML) and zone: a compiled mapping is never
# changed once built, so runs share it. `clinicsync run` loads each connector's mapping at
# every poll; parsing and compiling it again cost ~40 ms a time.
_COMPILED: dict[tuple[str, str, str, str, PlausibleWindow, str, tuple[tuple[str, str | None], ...], int | None],
                CompiledMapping] = {}


# What the generated code (codegen.py) calls of this module, handed over rather than imported
# there: this module imports codegen, and an import cycle is refused (tests/packaging).
_RUNTIME = {"quoted_zone": quoted_zone, "_NO_END": _NO_END, "_replaced": _replaced, "_stand_in_id": stand_in_id,
            "_fit": _fit, "_dropped_note": _dropped_note, "_updated_utc": _updated_utc,
            "_fallback_failed": fallback_failed,
            "_booked_utc": _booked_utc,
            "_CONNECTOR_NOTES": CONNECTOR_NOTES, "_ID_LIMIT": _ID_LIMIT, "_TEXT_LIMITS": _TEXT_LIMITS}
