"""Waitlist mappings: a raw record that says "this patient waits for a slot" ->
a ``NormalizedWaitlistEntry``, or a ``MappingError`` naming the field, never the value.

A mapping file declares ``record: waitlist`` to be one of these; the appointment mapping
engine (engine.py) keeps its own file format. The field language is the same path
language (paths.py) with a small spec: ``from`` (a path or paths tried in order),
``value`` (a constant), ``default``, ``required``, ``map`` (a value map, matched
case-insensitively). Each target has one fixed type, except ``priority``, whose ``type:``
says which way its numbers run:

- ``integer`` (the default): higher is more urgent, as clinicsync stores it;
- ``fhir``: FHIR R4's ``Appointment.priority`` (unsignedInt), which follows iCal: 0 is
  undefined, 1 the highest, 9 the lowest. Stored as ``10 - p`` (1 -> 9, 9 -> 1), never below
  1 for a defined priority; 0 or none stays 0 (after every defined one).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clinicsync.common.timeutil import TimeError, localize, parse_datetime, to_utc, zone
from clinicsync.mappings.model import MappingError, MappingLoadError, NormalizedPatient
from clinicsync.mappings.paths import compile_path
from clinicsync.mappings.preset_files import read_preset_data
from clinicsync.mappings.transforms import (
    TransformError,
    as_duration_minutes,
    as_email,
    as_integer,
    as_language,
    as_visit_mode,
    clean_text,
    phone_parser,
)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ENTRY_FIELDS = (
    "external_id", "patient.external_id", "patient.name", "patient.phone", "patient.email", "patient.language",
    "practitioner.external_id", "visit_type", "location", "visit_mode", "duration_minutes", "windows", "periods",
    "available_from", "available_until", "priority", "expires", "waiting_since", "timezone", "status",
    "later_appointment.external_id")
REQUIRED = ("external_id", "patient.external_id")
# A source's words for "still waiting" and "taken off the list"; anything else is quarantined.
_STATUS_WORDS = {"waiting": "waiting", "waitlist": "waiting", "active": "waiting", "open": "waiting",
                 "removed": "removed", "cancelled": "removed", "canceled": "removed", "deleted": "removed",
                 "closed": "removed", "done": "removed", "booked": "removed", "entered-in-error": "removed"}


@dataclass(frozen=True)
class NormalizedWaitlistEntry:
    """One waiting patient as the source says it; times aware UTC, windows JSON-ready."""

    external_id: str
    patient: NormalizedPatient
    timezone: str
    practitioner_ref: str | None = None  # None: any doctor
    visit_type: str | None = None
    location: str | None = None  # None: any place
    visit_mode: str | None = None
    duration_minutes: int | None = None
    # [{"start": ISO-UTC, "end": ISO-UTC}] and/or [{"days": [...], "from": "HH:MM", "to": "HH:MM"}]
    windows: tuple[Mapping[str, Any], ...] = ()
    priority: int = 0
    waiting_since: datetime | None = None
    expires_at: datetime | None = None
    status: str = "waiting"  # waiting | removed (the source took it off its list)
    # The patient's later visit this entry would replace (an appointment id of the same source),
    # released on acceptance per ``waitlist.booking.release_later``.
    later_appointment_ref: str | None = None
    # Contact fields the source gave that did not parse and were left out (their names only),
    # and the fields the absolute windows came from: for a refusal that names the field.
    dropped: tuple[str, ...] = ()
    period_fields: tuple[str, ...] = ()


class WaitlistFieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | list[str] | None = Field(None, alias="from", description="path, or paths tried in order")
    value: Any = Field(None, description="a constant")
    default: Any = None
    required: bool = False
    map: dict[str, Any] | None = Field(None, description="value map, matched case-insensitively")
    type: str | None = Field(None, description="priority only: integer (higher first) or fhir (1 highest)")


class WaitlistPreset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    record: str = "waitlist"
    extends: str | None = None
    datetime_formats: list[str] = Field(default_factory=list)
    fields: dict[str, WaitlistFieldSpec] = Field(default_factory=dict)


_WINDOW = re.compile(r"^(?:(?P<days>[a-z, -]+?)\s+)?(?P<from>\d{1,2}:\d{2})\s*-\s*(?P<to>\d{1,2}:\d{2})$"
                     r"|^(?P<only_days>[a-z, -]+)$")


def _clock(text: str) -> str:
    if text == "24:00":
        return text
    try:
        return time.fromisoformat(text.zfill(5)).strftime("%H:%M")
    except ValueError:
        raise TransformError("not a time of day (HH:MM)") from None


def _days(text: str) -> list[str]:
    days: list[str] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part in ("daily", "any", "every day", "all"):
            return list(DAYS)
        first, _, last = (s.strip()[:3] for s in part.partition("-"))
        if first not in DAYS or (last and last not in DAYS):
            raise TransformError("not a day of the week (mon … sun)")
        start, end = DAYS.index(first), DAYS.index(last or first)
        span = range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)]
        days += [DAYS[i] for i in span if DAYS[i] not in days]
    return [d for d in DAYS if d in days]


def parse_weekly(text: str) -> list[dict[str, Any]]:
    """'mon-fri 09:00-13:00; sat 09:00-12:00' -> weekly windows in local time. Windows are
    separated by ';' or new lines; days by ',' or ranges; no days means every day, no times
    the whole day. 'any' (or nothing) is any time: no window."""
    windows: list[dict[str, Any]] = []
    for chunk in (c.strip().lower() for c in re.split(r"[;\n]", text)):
        if not chunk or chunk in ("any", "anytime", "any time"):
            continue
        match = _WINDOW.match(chunk)
        if match is None:
            raise TransformError("not a weekly window (e.g. mon-fri 09:00-13:00)")
        if match.group("only_days"):
            windows.append({"days": _days(match.group("only_days")), "from": "00:00", "to": "24:00"})
            continue
        start, end = _clock(match.group("from")), _clock(match.group("to"))
        if end != "24:00" and start >= end:
            raise TransformError("a weekly window must end after it starts, on the same day")
        days = _days(match.group("days")) if match.group("days") else list(DAYS)
        windows.append({"days": days, "from": start, "to": end})
    return windows


def _moment(value: Any, zone_name: str, formats: tuple[str, ...], end: bool = False,
            clock: str | None = None) -> datetime:
    """A date-time or a date (FHIR dateTime may be a date) -> aware UTC. A date alone is its
    local midnight in ``zone_name`` (the visit's zone), or with ``end`` the next midnight (a
    period's end date is inclusive). A naive date-time is wall time in ``clock``: the zone the
    source writes naive date-times in (UTC for ``stored_times: utc``), else ``zone_name``."""
    read_in = clock or zone_name
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment, read_in = datetime.combine(value + timedelta(days=1 if end else 0), time()), zone_name
    else:
        text = str(value).strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text)
            moment, read_in = datetime.combine(day + timedelta(days=1 if end else 0), time()), zone_name
        else:
            try:
                moment = parse_datetime(text, formats)
            except TimeError as exc:
                raise TransformError(str(exc)) from None
    try:
        return to_utc(moment if moment.tzinfo else localize(moment, read_in), read_in)
    except TimeError as exc:
        raise TransformError(str(exc)) from None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class WaitlistMapping:
    """A compiled waitlist mapping: ``apply(record)`` -> entry, or MappingError(field, reason)."""

    record = "waitlist"

    def __init__(self, preset: WaitlistPreset, default_zone: str, default_region: str,
                 stored_times: str = "local") -> None:
        unknown = sorted(set(preset.fields) - set(ENTRY_FIELDS))
        if unknown:
            raise MappingLoadError(f"mapping {preset.name}: unknown waitlist field(s) {', '.join(unknown)} "
                             f"(known: {', '.join(ENTRY_FIELDS)})")
        missing = [f for f in REQUIRED if f not in preset.fields]
        if missing:
            raise MappingLoadError(f"mapping {preset.name}: a waitlist mapping needs {', '.join(missing)}")
        kind = (preset.fields.get("priority") or WaitlistFieldSpec()).type or "integer"
        if kind not in ("integer", "fhir"):
            raise MappingLoadError(f"mapping {preset.name}: fields.priority.type must be integer or fhir")
        self.name = preset.name
        self.default_zone = default_zone
        # The connector's convention (``stored_times``): naive date-times are UTC instants for
        # ``utc`` (as the appointment mapping reads them), wall clock in the entry's zone else.
        self.stored_times = stored_times
        self.fhir_priority = kind == "fhir"
        self.formats = tuple(preset.datetime_formats)
        self.phone = phone_parser(default_region)
        self.specs = preset.fields
        self.getters: dict[str, list[Callable[[Any], Any]]] = {
            target: [compile_path(p) for p in ([spec.from_] if isinstance(spec.from_, str) else spec.from_ or [])]
            for target, spec in preset.fields.items()}

    def _raw(self, target: str, record: Mapping[str, Any]) -> Any:
        spec = self.specs.get(target)
        if spec is None:
            return None
        if spec.value is not None:
            return spec.value
        for getter in self.getters[target]:
            value = getter(record)
            if isinstance(value, str):
                value = value.strip()
            if spec.map is not None and value is not None and not isinstance(value, (list, dict)):
                key = str(value).strip().lower()
                table = {str(k).lower(): v for k, v in spec.map.items()}
                if key in table:
                    value = table[key]
            if value not in (None, "", []):
                return value
        if spec.default is not None:
            return spec.default
        if spec.required:
            raise MappingError(target, "missing (required)")
        return None

    def peek_id(self, record: Mapping[str, Any]) -> str | None:
        try:
            value = self._raw("external_id", record)
        except MappingError:
            return None
        return None if value is None else str(value)

    def apply(self, record: Mapping[str, Any]) -> NormalizedWaitlistEntry:
        values = {target: raw for target in ENTRY_FIELDS if (raw := self._raw(target, record)) is not None}
        zone_name = self._zone(values.get("timezone"))
        return self._entry(values, zone_name)

    def _zone(self, raw: Any) -> str:
        if raw is None:
            return self.default_zone
        try:
            zone(str(raw))
        except TimeError:
            raise MappingError("timezone", "not an IANA time zone") from None
        return str(raw)

    def _convert(self, target: str, convert: Callable[[Any], Any], raw: Any) -> Any:
        try:
            return convert(raw)
        except (TransformError, ValueError, TypeError) as exc:
            reason = str(exc) if isinstance(exc, TransformError) else f"not a valid {target.split('.')[-1]}"
            raise MappingError(target, reason) from None

    def _naive_zone(self, zone_name: str) -> str:
        """The zone a naive date-time of an entry in ``zone_name`` is read in."""
        return "UTC" if self.stored_times == "utc" else zone_name

    def _entry(self, values: dict[str, Any], zone_name: str) -> NormalizedWaitlistEntry:
        text = lambda target: self._convert(target, lambda v: clean_text(str(v)), values[target])  # noqa: E731
        optional_text = lambda target: text(target) if target in values else None  # noqa: E731
        external_id, patient_id = text("external_id"), text("patient.external_id")
        for target, value in (("external_id", external_id), ("patient.external_id", patient_id)):
            if not value.strip():
                raise MappingError(target, "missing (required)")
            if len(value) > 255:
                raise MappingError(target, "longer than 255 characters")
        patient = NormalizedPatient(
            external_id=patient_id, name=optional_text("patient.name"),
            phone=self._optional("patient.phone", self.phone, values),
            email=self._optional("patient.email", as_email, values),
            language=self._optional("patient.language", as_language, values))
        windows: list[Mapping[str, Any]] = []
        if "windows" in values:
            windows += self._convert("windows", parse_weekly, values["windows"])
        if "periods" in values:
            windows += self._periods(values["periods"], zone_name)
        if "available_from" in values or "available_until" in values:
            start = self._time("available_from", values, zone_name)
            end = self._time("available_until", values, zone_name, end=True)
            if start and end and end <= start:
                raise MappingError("available_until", "before available_from")
            windows.append({"start": _iso(start) if start else None, "end": _iso(end) if end else None})
        duration = self._optional("duration_minutes", _minutes, values)
        later = optional_text("later_appointment.external_id")
        if later is not None:
            later = later.removeprefix("Appointment/").strip() or None  # a FHIR reference names the id
        dropped = tuple(key for key in ("patient.phone", "patient.email")
                        if key in values and str(values[key]).strip() and getattr(patient, key[8:]) is None)
        period_fields = tuple(key for key in ("periods", "available_until") if key in values
                              or (key == "available_until" and "available_from" in values))
        return NormalizedWaitlistEntry(
            later_appointment_ref=later, dropped=dropped, period_fields=period_fields,
            external_id=external_id, patient=patient, timezone=zone_name,
            practitioner_ref=optional_text("practitioner.external_id"), visit_type=optional_text("visit_type"),
            location=optional_text("location"), visit_mode=self._optional("visit_mode", as_visit_mode, values),
            duration_minutes=duration, windows=tuple(windows),
            priority=self._priority(values.get("priority")),
            waiting_since=self._time("waiting_since", values, zone_name),
            expires_at=self._time("expires", values, zone_name, end=True),
            status=self._status(values.get("status")))

    def _optional(self, target: str, convert: Callable[[Any], Any], values: dict[str, Any]) -> Any:
        """A contact detail, language or visit mode that does not parse is dropped (as the
        appointment mappings drop it): the patient still waits, the offer finds another
        channel. Other fields quarantine the record."""
        if target not in values:
            return None
        if target.startswith("patient.") or target == "visit_mode":
            try:
                return convert(values[target])
            except (TransformError, ValueError, TypeError):
                return None
        return self._convert(target, convert, values[target])

    def _time(self, target: str, values: dict[str, Any], zone_name: str, end: bool = False) -> datetime | None:
        if target not in values:
            return None
        clock = self._naive_zone(zone_name)
        return self._convert(target, lambda v: _moment(v, zone_name, self.formats, end, clock), values[target])

    def _periods(self, raw: Any, zone_name: str) -> list[dict[str, Any]]:
        """FHIR ``requestedPeriod`` (0..*): each Period with a start and/or an end."""
        periods = raw if isinstance(raw, list) else [raw]
        out: list[dict[str, Any]] = []
        clock = self._naive_zone(zone_name)
        for period in periods:
            if not isinstance(period, Mapping):
                raise MappingError("periods", "not a period (an object with start and/or end)")
            start = self._convert("periods", lambda v: _moment(v, zone_name, self.formats, clock=clock),
                                  period["start"]) if period.get("start") else None
            end = self._convert("periods", lambda v: _moment(v, zone_name, self.formats, True, clock),
                                period["end"]) if period.get("end") else None
            if start is None and end is None:
                continue
            if start and end and end <= start:
                raise MappingError("periods", "a period that ends before it starts")
            out.append({"start": _iso(start) if start else None, "end": _iso(end) if end else None})
        return out

    def _priority(self, raw: Any) -> int:
        if raw is None:
            return 0
        number = self._convert("priority", as_integer, raw)
        if number < 0:
            raise MappingError("priority", "a negative priority")
        if self.fhir_priority:
            return 0 if number == 0 else max(10 - number, 1)
        return int(number)

    def _status(self, raw: Any) -> str:
        if raw is None:
            return "waiting"
        word = _STATUS_WORDS.get(str(raw).strip().lower())
        if word is None:
            raise MappingError("status", "not a waitlist status (waiting or removed; map the source's words "
                                         "with map:)")
        return word


def _minutes(value: Any) -> int:
    minutes = as_integer(value) if isinstance(value, int) or str(value).strip().isdigit() \
        else as_duration_minutes(value)
    if minutes <= 0 or minutes > 24 * 60:
        raise TransformError("not a visit length (1 to 1440 minutes)")
    return minutes


def load_waitlist_mapping(ref: str, default_zone: str, default_region: str,
                          base_dir: Path = Path("."), stored_times: str = "local") -> WaitlistMapping:
    """Load a waitlist mapping by preset name (mappings/NAME.yaml) or file. A file that does
    not load is a MappingLoadError of one line naming the file and key. ``stored_times``: the
    connector's convention for naive date-times (``local`` or ``utc``)."""
    data, _ = read_preset_data(ref, base_dir)
    if data.get("record") != "waitlist":
        raise MappingLoadError(f"mapping {ref!r} is no waitlist mapping (it needs `record: waitlist`)")
    if not data.get("status_map"):
        data.pop("status_map", None)  # `extends:` merging adds an empty one
    try:
        preset = WaitlistPreset.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise MappingLoadError(f"mapping {ref!r}: {problems}") from None
    return WaitlistMapping(preset, default_zone, default_region, stored_times)
