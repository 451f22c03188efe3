"""Upcoming visits nobody can remind, or that no doctor's calendar will show.

A phone or email in another table that the mapping never joined maps without an error:
every reminder is then quietly planned for nobody. Counted over the visits still ahead
that reminders are planned for; a warning below half, since a clinic may well have some
patients without either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.ingest.plausibility.finding import Finding, share

MIN_UPCOMING = 5
LOW = 0.5  # warn when fewer than half of the upcoming visits can be reminded / have a doctor


class Reach:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.upcoming = self.reachable = self.with_doctor = 0

    def add(self, appointment: NormalizedAppointment) -> None:
        if appointment.start < self.now or appointment.status not in ACTIVE_STATUSES:
            return
        self.upcoming += 1
        patient = appointment.patient
        self.reachable += bool(patient is not None and patient.channel != "none"
                               and ((patient.phone and patient.allow_sms) or (patient.email and patient.allow_email)))
        doctor = appointment.practitioner
        self.with_doctor += bool(doctor is not None and doctor.external_id)

    def summary(self) -> dict[str, Any]:
        return {"upcoming": self.upcoming, "reachable": self.reachable, "with_doctor": self.with_doctor}

    def describe(self) -> str:
        if not self.upcoming:
            return "no upcoming visits"
        return (f"{share(self.reachable, self.upcoming)} upcoming visits can be reminded (a phone or an email), "
                f"{share(self.with_doctor, self.upcoming)} have a doctor")

    def findings(self) -> list[Finding]:
        if self.upcoming < MIN_UPCOMING:
            return []
        found = []
        if self.reachable < LOW * self.upcoming:
            found.append(Finding("reach", "warning", "patient.phone",
                                 f"patient.phone, patient.email: only {share(self.reachable, self.upcoming)} upcoming "
                                 "visits have a usable phone or email: the others get no reminder. Map patient.phone "
                                 "and patient.email (phones kept in another table: join it in the connector's query)"))
        if self.with_doctor < LOW * self.upcoming:
            found.append(Finding("reach", "warning", "practitioner.external_id",
                                 f"practitioner.external_id: only {share(self.with_doctor, self.upcoming)} upcoming "
                                 "visits have a doctor: the others reach no doctor's calendar or agenda. Map "
                                 "practitioner.external_id (a provider through a link table: join it in the query)"))
        return found
