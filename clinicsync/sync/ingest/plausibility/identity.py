"""The wrong person: a patient field filled from something that is not the patient.

Three mistakes a valid mapping can make, each of which sends every message to the wrong
person or to nobody, seen from the values' shape only:

- the patient's id is the appointment's own key (every visit a different "patient", equal
  to the visit's id) or the doctor's;
- one (or a handful of) "patient(s)" for every visit: the user who created the row, or its
  owner, mapped as the patient;
- the patient's name is the service's (or the doctor's) name, or a handful of names for
  many patients;
- a name (the patient's or the doctor's) that holds a date, a time or a number: a column
  such as the row's last-modified stamp or a code joined into the name, which would greet
  the patient as "Ada Stone 2023-08-29 13:10:00".

Thresholds leave a small practice alone: nothing is judged on fewer than 5 visits, the
"few patients" rule needs 20 visits, and a field must equal the other on most visits.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.mappings.preset_schema import MappingPreset
from clinicsync.sync.ingest.plausibility.finding import Finding, reads, share

KEEP = 5_000  # distinct ids or names counted; past this the source has many, which is all that matters
MIN_PAIRS = 5  # equal values on fewer visits than this prove nothing
SAME_ID = 0.9  # share of visits whose patient id equals the other id
SAME_NAME = 0.5  # share of visits whose patient name equals the other name
FEW_VISITS = 20  # the "few patients" rules need this many visits
FEW_PATIENTS = 5  # ... and at most this many distinct patients, each with 10+ visits on average
ONE_PATIENT = 0.6  # or one patient on this share of the visits
FEW_NAMES = 3  # at most this many distinct names for FEW_VISITS+ distinct patients
FIGURES = 0.2  # share of named visits whose name holds a date, a time or a number
_FIGURE = re.compile(r"^[\W_]*\d[\d\W_]*$")  # a word of digits and separators only: 2023-08-29, 13:10, 4711


def has_figure(name: str) -> bool:
    """A word of the name is a date, a time or a number of three digits or more (``Quill2`` is a
    word and ``Desk 2`` a counter someone typed; ``2023-08-29``, ``13:10`` and ``4711`` are not names)."""
    return any(_FIGURE.match(word) and sum(c.isdigit() for c in word) >= 3 for word in name.split())


def _same(a: str, b: str) -> bool:
    """Equal but for case and surrounding spaces (compared only when the lengths allow it)."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 4 or (a[:1].lower() != b[:1].lower() and not (a[:1].isspace() or b[:1].isspace())):
        return False
    return a.strip().casefold() == b.strip().casefold()


class PatientIdentity:
    """Counts, over mapped visits with a patient, how often patient fields equal other fields,
    and how many distinct patients and names there are (at most ``KEEP`` of each)."""

    def __init__(self, preset: MappingPreset | None = None) -> None:
        self.preset = preset
        self.visits = 0
        self.ids: Counter[str] = Counter()
        self.names: set[str] = set()
        self.named = 0
        self.id_is_visit = 0
        self.with_doctor = self.id_is_doctor = 0
        self.typed = self.name_is_type = 0
        self.doctor_named = self.name_is_doctor = 0
        self.figures: Counter[str] = Counter()  # field -> named visits whose name holds a figure
        self.names_seen: Counter[str] = Counter()  # field -> named visits

    def add(self, appointment: NormalizedAppointment) -> None:
        self._figures(appointment)
        patient = appointment.patient
        if patient is None or not patient.external_id:
            return
        self.visits += 1
        key = patient.external_id
        if key in self.ids or len(self.ids) < KEEP:
            self.ids[key] += 1
        self.id_is_visit += key == appointment.external_id
        doctor = appointment.practitioner
        if doctor is not None and doctor.external_id:
            self.with_doctor += 1
            self.id_is_doctor += key == doctor.external_id
        name = patient.name
        if not name:
            return
        self.named += 1
        if len(self.names) < KEEP:
            self.names.add(name)  # as written: the "few names" rule can only trip less often
        if appointment.type:
            self.typed += 1
            self.name_is_type += _same(name, appointment.type)
        if doctor is not None and doctor.name:
            self.doctor_named += 1
            self.name_is_doctor += _same(name, doctor.name)

    def _figures(self, appointment: NormalizedAppointment) -> None:
        for target, person in (("patient.name", appointment.patient), ("practitioner.name", appointment.practitioner)):
            name = person.name if person is not None else None
            if name:
                self.names_seen[target] += 1
                self.figures[target] += has_figure(name)

    def summary(self) -> dict[str, Any]:
        return {"visits": self.visits, "patients": len(self.ids), "patients_capped": len(self.ids) >= KEEP,
                "patient_id_is_visit_id": self.id_is_visit, "patient_name_is_type": self.name_is_type}

    def describe(self) -> str:
        more = "+" if len(self.ids) >= KEEP else ""
        return f"{len(self.ids)}{more} distinct patients over {self.visits} visits"

    def findings(self) -> list[Finding]:
        return [*self._ids(), *self._names(), *self._figure_findings()]

    def _figure_findings(self) -> list[Finding]:
        found = []
        for target, count in self.figures.items():
            named = self.names_seen[target]
            if count >= MIN_PAIRS and count >= FIGURES * named:
                found.append(Finding("patient_identity", "error", target,
                                     f"{target}: holds a date, a time or a number on {share(count, named)} named "
                                     f"visits{reads(self.preset, target)}: a stamp, an id or a code is part of the "
                                     f"name, and messages and calendars would show it. Map {target} from the name "
                                     "columns only (given and family name), without the row's dates or codes"))
        return found

    def _ids(self) -> list[Finding]:
        found = []
        fix = ("Map patient.external_id (and the patient's name, phone and email) from the patient the appointment "
               "names: its patient column, or the patient table joined in the connector's query")
        where = reads(self.preset, "patient.external_id")
        if self.id_is_visit >= MIN_PAIRS and self.id_is_visit >= SAME_ID * self.visits:
            found.append(Finding("patient_identity", "error", "patient.external_id",
                                 f"patient.external_id: equals the appointment's own id (external_id) on "
                                 f"{share(self.id_is_visit, self.visits)} visits{where}: every visit would be a "
                                 f"different patient. {fix}"))
        if self.id_is_doctor >= MIN_PAIRS and self.id_is_doctor >= SAME_ID * self.with_doctor:
            found.append(Finding("patient_identity", "error", "patient.external_id",
                                 f"patient.external_id: equals the doctor's id (practitioner.external_id) on "
                                 f"{share(self.id_is_doctor, self.with_doctor)} visits{where}: the doctor would be "
                                 f"taken for the patient. {fix}"))
        if self.visits >= FEW_VISITS and self.ids:
            distinct = len(self.ids)
            top = self.ids.most_common(1)[0][1]
            if (distinct <= FEW_PATIENTS and self.visits >= 10 * distinct) or top >= ONE_PATIENT * self.visits:
                found.append(Finding("patient_identity", "error", "patient.external_id",
                                     f"patient.external_id: {distinct} distinct patient(s) for {self.visits} visits, "
                                     f"one of them on {share(top, self.visits)}{where}: one person for (nearly) every "
                                     "visit is the row's creator, owner or a user, not the patient. " + fix))
        return found

    def _names(self) -> list[Finding]:
        found = []
        where = reads(self.preset, "patient.name")
        fix = "Map patient.name from the patient's own name columns (the patient or person table joined in the query)"
        if self.name_is_type >= MIN_PAIRS and self.name_is_type >= SAME_NAME * self.typed:
            found.append(Finding("patient_identity", "error", "patient.name",
                                 "patient.name: equals the visit type (type) on "
                                 f"{share(self.name_is_type, self.typed)} visits{where}: the service's name would "
                                 f"greet the patient. {fix}"))
        if self.name_is_doctor >= MIN_PAIRS and self.name_is_doctor >= SAME_NAME * self.doctor_named:
            found.append(Finding("patient_identity", "error", "patient.name",
                                 f"patient.name: equals the doctor's name (practitioner.name) on "
                                 f"{share(self.name_is_doctor, self.doctor_named)} visits{where}. {fix}"))
        if (not found and self.named >= FEW_VISITS and len(self.ids) >= FEW_VISITS
                and len(self.names) <= FEW_NAMES):
            found.append(Finding("patient_identity", "error", "patient.name",
                                 f"patient.name: {len(self.names)} distinct name(s) for {len(self.ids)} different "
                                 f"patients{where}: a service, a title or a user's name, not the patient's. {fix}"))
        return found
