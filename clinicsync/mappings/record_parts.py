"""The parts of a NormalizedAppointment that engine.py (and the code codegen.py generates)
builds from a record's read values: the patient and the practitioner, the visit mode and its
links, the update and booking times in UTC, the replaced row's id, a place's zone, and the
stand-in id of a visit whose source has no id column. Pure functions of the values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from clinicsync.common.timeutil import zone
from clinicsync.mappings.model import MappingError, NormalizedPatient, NormalizedPractitioner
from clinicsync.mappings.preset_schema import PATIENT_FIELDS, PRACTITIONER_FIELDS
from clinicsync.mappings.transforms import split_phone


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


def replaced_id(value: Any, external_id: Any) -> str | None:
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


def telehealth(values: dict[str, Any]) -> dict[str, Any]:
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


def updated_utc(value: Any, tz_name: str) -> datetime | None:
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


def booked_utc(value: Any, tz_name: str) -> datetime | None:
    """The booking time in UTC (a naive one read in the record's zone, leniently); one that
    cannot be placed is no booking time (the record is then judged by when it was first seen)."""
    try:
        return updated_utc(value, tz_name)
    except MappingError:
        return None


_PATIENT_KEYS = tuple((f"patient.{f}", f) for f in sorted(PATIENT_FIELDS))
_PRACTITIONER_KEYS = tuple((f"practitioner.{f}", f) for f in sorted(PRACTITIONER_FIELDS))


def patient_of(values: dict[str, Any]) -> NormalizedPatient | None:
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


def practitioner_of(values: dict[str, Any]) -> NormalizedPractitioner | None:
    fields = {f: values[key] for key, f in _PRACTITIONER_KEYS if key in values}
    if "external_id" not in fields:
        if "email" in fields:
            fields["external_id"] = fields["email"]
        else:
            return None
    fields["external_id"] = str(fields["external_id"])
    return NormalizedPractitioner(**fields)
