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

The preset's compilation (``CompiledMapping``) and its loading (``load_mapping``) meet in one
rule, that a preset which does not load fails with one line naming its file, line and key; the
loader turns the compiler's ``MappingProblem`` into that line through the preset's origins, and
the compiled mapping's memo is keyed by the merged text the loader read. The preset's schema is
preset_schema.py, a field's readers and memos field_readers.py, the appointment's parts built
from the read values record_parts.py; the preset files' reading (``extends`` merged, YAML read
with its line numbers) lives in preset_files.py, the generated code in codegen.py, the value
converters in transforms.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clinicsync.common.timeutil import TimeError, zone
from clinicsync.common.vocabulary import STATUSES, fhir_status
from clinicsync.mappings.codegen import generate
from clinicsync.mappings.field_readers import (
    MEMOIZED_KINDS,
    RememberedUtc,
    empty_value,
    memoized,
    quoted,
    readers_of,
    sources_of,
    value_mapper,
)
from clinicsync.mappings.model import (
    MappingError,
    MappingLoadError,
    NormalizedAppointment,
    quoted_status,
    quoted_zone,
)
from clinicsync.mappings.paths import top_column
from clinicsync.mappings.preset_files import Origin, merged_preset, owner_of, suggestion
from clinicsync.mappings.preset_schema import CORE_FIELDS, TARGETS, FieldSpec, MappingPreset
from clinicsync.mappings.record_parts import (
    booked_utc,
    holds_patient_data,
    patient_of,
    place_zone_lookup,
    practitioner_of,
    replaced_id,
    stand_in_id,
    telehealth,
    updated_utc,
)
from clinicsync.mappings.transforms import (
    TransformError,
    clean_text,
    transform_for,
)
from clinicsync.mappings.window import DEFAULT_WINDOW, PlausibleWindow

_DEFAULT_TYPES = {
    "start": "datetime", "end": "datetime", "source_updated_at": "datetime", "booked_at": "datetime",
    "duration_minutes": "integer",
    "patient.phone": "phone", "patient.email": "email", "patient.language": "language",
    "patient.channel": "channel", "practitioner.email": "email", "answer": "answer",
    "patient.allow_sms": "boolean", "patient.allow_email": "boolean", "timezone": "timezone",
    "visit_mode": "visit_mode", "join_url": "url", "provider_join_url": "url", "dial_in": "phone",
}


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
    # What the generated code (codegen.py) needs besides: the readers as data (see sources_of),
    # the type's conversion before memoizing, the type's name, and whether a value map applies.
    sources: tuple[tuple[Any, ...], ...] = ()
    transform: Callable[[Any], Any] | None = None
    kind: str = "string"
    mapped: bool = False


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
        self._utc = RememberedUtc(window)
        self._generated, self.source = generate(self, _RUNTIME)
        self._texts: Callable[[Mapping[str, Any]], NormalizedAppointment] | None = None  # applier(texts=True)'s

    def _compile(self, target: str, spec: FieldSpec, default_region: str, formats: tuple[str, ...],
                 lenient_map: bool = False) -> _CompiledField:
        kind = spec.type or _DEFAULT_TYPES.get(target, "string")
        type_convert = transform_for(kind, default_region, formats)
        if kind in MEMOIZED_KINDS:
            type_convert = memoized(type_convert)
        convert = type_convert
        if spec.map is not None:
            mapper = value_mapper(spec.map, target, spec.quote, lenient_map)

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
        return _CompiledField(target, readers_of(spec), convert, default, spec.required, on_invalid == "drop",
                              target.endswith("external_id") or target in _TEXT_LIMITS, spec.fix, spec.quote,
                              fallback, fallback_paths, sources_of(spec), transform_for(kind, default_region, formats),
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
        for source in sources_of(spec):
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
                    if not empty_value(value):
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
                if empty_value(raw):
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
            patient=patient_of(values),
            practitioner=practitioner_of(values),
            source_updated_at=updated_utc(updated, read_tz),
            notes=tuple(notes),
            answer=values.get("answer"),
            **telehealth(values),
            cancel_reason=values.get("cancel_reason"),
            booked_at=booked_utc(values.get("booked_at"), read_tz),
            replaces=replaced_id(values.get("replaces"), external_id),
            former_id=former,
        )


# The class's own ``apply``, as defined (CompiledMapping.applier: one patched in later is not it).
_OWN_APPLY = CompiledMapping.apply


def fallback_failed(field: _CompiledField, reason: str) -> str:
    """What is said when a field's fallback had a value its type could not read: the setting
    and the type named, the value not (it may be patient data)."""
    kind = field.fallback.kind if field.fallback is not None else field.kind
    return f"fields.{field.target}.fallback ({field.fallback_paths}) gave no usable {kind}: {reason}"


def _dropped_note(field: _CompiledField, exc: TransformError, raw: Any) -> str:
    """The data-quality note for an optional value that was dropped: the field, the problem
    and, for fields marked ``quote``, the value."""
    return f"{field.target}: dropped{quoted(raw, field.quote)} ({exc})"


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
_RUNTIME = {"quoted_zone": quoted_zone, "_NO_END": _NO_END, "_replaced": replaced_id, "_stand_in_id": stand_in_id,
            "_fit": _fit, "_dropped_note": _dropped_note, "_updated_utc": updated_utc,
            "_fallback_failed": fallback_failed,
            "_booked_utc": booked_utc,
            "_CONNECTOR_NOTES": CONNECTOR_NOTES, "_ID_LIMIT": _ID_LIMIT, "_TEXT_LIMITS": _TEXT_LIMITS}
