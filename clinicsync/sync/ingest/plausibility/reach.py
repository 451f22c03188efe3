"""Upcoming visits nobody can remind, or that no doctor's calendar will show.

A phone or email in another table that the mapping never joined maps without an error:
every reminder is then quietly planned for nobody. Counted over the visits still ahead
that reminders are planned for. Fewer than half reachable fails `check` when reminders are
on (a clinic may have some patients without either, not most): the setup cannot do its
job. Reachable means on a channel that is sent: phones with only an email notifier (or emails
with only SMS) remind nobody, and the finding says which notifier is missing. The finding
names the columns of the raw rows that look like a phone or an email and
hold one on the unreachable visits (by name, never a value), the likeliest fix: never a
doctor's, a staff member's or an emergency contact's column, the patient's own table's first
(contact_columns.py). Visits whose patient has a phone or an email that the mapped consent
(``patient.allow_sms``, ``patient.allow_email``) turns away are counted apart: for them the
contact is mapped, so the hint names the consent columns (a flag whose every row says no is
more often a default nobody set than the patients' answer), never the contact columns again.
Visits with
no patient at all (a calendar's staff meeting or blocked hour that lists only its organizer)
are counted apart in the profile line: nobody can be reminded of them, and no mapping fixes
that, so the admin is told how many rather than left to wonder which contact is missing.

A doctor: when calendars or doctors' agendas are on, practitioners with neither a name nor
an email on every visit (a resource's or a slot's key taken for the doctor) reach no
calendar and no agenda: that fails too, as does no doctor on any visit. Fewer than half of
the visits with a doctor only warns (a clinic's reminders work without one). With agendas on, a
mapped doctor's email that no visit's doctor has warns: the agendas go to the doctor's email,
and a column read from rows no doctor owns (a patients' typed contact table) sends none (a
warning, not a failure: a source whose doctors keep no email at all is set up right).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.mappings.preset_schema import MappingPreset
from clinicsync.sync.config.routes import PHONE_CHANNELS, RoutingError, resolve_routes
from clinicsync.sync.ingest.plausibility.contact_columns import ContactColumns
from clinicsync.sync.ingest.plausibility.finding import Finding, Level, reads, share

if TYPE_CHECKING:
    from clinicsync.sync.config.settings import Settings

MIN_UPCOMING = 5
LOW = 0.5  # fewer than half of the upcoming visits reachable / with a doctor
KEEP_COLUMNS = 200  # distinct column names counted as contact candidates
_CONTACT_NAME = re.compile(r"phone|mobile|cell|tel(e|$|_)|gsm|movil|celular|e_?mail|mail|correo|contact", re.I)
_PHONE_LIKE = re.compile(r"(\d\D{0,2}){6,}")


@dataclass(frozen=True)
class Needs:
    """What the settings ask of each visit: a way to remind the patient (reminders on), and a
    doctor named or emailed (calendars or doctors' agendas on). ``Needs()`` asks nothing: the
    reach findings then only warn (a profile built without settings).

    ``routed``: the channels a notifier sends (sync/config/routes.py), ``listed`` the reminders'
    channels: a patient is reachable only on a channel in both (or their own preferred one, when
    routed), with its address, as the dispatcher sends. A phone is no reach when only email
    goes out, nor an email when only SMS does. None: not known (any phone or email counts)."""

    reminders: bool = False
    doctors: bool = False
    agendas: bool = False  # the doctors' agendas are on: each goes to the doctor's email
    routed: frozenset[str] | None = None
    listed: tuple[str, ...] = ()

    @classmethod
    def of(cls, settings: Settings) -> Needs:
        reminders = settings.reminders
        try:
            routed: frozenset[str] | None = frozenset(resolve_routes(settings))
        except RoutingError:  # a broken route is `config validate`'s to report
            routed = None
        return cls(reminders=reminders.enabled,
                   doctors=settings.calendar.provider != "none" or (reminders.enabled and reminders.agenda.enabled),
                   agendas=reminders.enabled and reminders.agenda.enabled,
                   routed=routed, listed=tuple(reminders.channels))

    def reaches(self, patient: Any) -> bool:
        """Whether a message can go to ``patient`` on a channel that is sent, with their consent."""
        if patient is None or patient.channel == "none":
            return False
        phone = bool(patient.phone and patient.allow_sms)
        email = bool(patient.email and patient.allow_email)
        if self.routed is None:
            return phone or email
        tried = ([patient.channel] if patient.channel in self.routed else []) + list(self.listed)
        return any(c in self.routed and (phone if c in PHONE_CHANNELS else email) for c in tried)

    @staticmethod
    def refused(patient: Any) -> bool:
        """Whether ``patient`` has a phone or an email and the consent mapped for each says no."""
        if patient is None or not (patient.phone or patient.email):
            return False
        return not (patient.phone and patient.allow_sms) and not (patient.email and patient.allow_email)

    def unsent(self, patient: Any) -> str | None:
        """The kind of contact the patient has that no channel sent uses (``phone``, ``email``),
        when that is why they cannot be reached; None otherwise."""
        if self.routed is None or patient is None or self.reaches(patient):
            return None
        if patient.phone and patient.allow_sms:
            return "phone"
        if patient.email and patient.allow_email:
            return "email"
        return None


def _contact_value(value: Any) -> bool:
    """A value that could be a phone or an email (never kept, only judged)."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return False
    text = str(value)
    return "@" in text or bool(_PHONE_LIKE.search(text))


class Reach:
    def __init__(self, now: datetime, needs: Needs | None = None, preset: MappingPreset | None = None) -> None:
        self.now, self.needs, self.preset = now, needs or Needs(), preset
        self.upcoming = self.reachable = self.with_doctor = self.doctor_known = self.no_patient = 0
        self.refused = 0  # unreachable upcoming visits whose contact the mapped consent turns away
        self.doctor_emailed = 0
        self.candidates: Counter[str] = Counter()  # column -> unreachable upcoming visits it holds a contact on
        self.unsent: Counter[str] = Counter()  # phone / email -> upcoming visits only that contact reaches, unsent
        self.columns = ContactColumns(preset)

    def add(self, appointment: NormalizedAppointment, record: Mapping[str, Any] | None = None) -> None:
        if appointment.start < self.now or appointment.status not in ACTIVE_STATUSES:
            return
        self.upcoming += 1
        patient = appointment.patient
        self.no_patient += patient is None
        reachable = self.needs.reaches(patient)
        self.reachable += reachable
        if (kind := self.needs.unsent(patient)) is not None:
            self.unsent[kind] += 1
        refused = not reachable and self.needs.refused(patient)
        self.refused += refused
        if not reachable and not refused and isinstance(record, Mapping):
            for key, value in record.items():
                if (isinstance(key, str) and _CONTACT_NAME.search(key) and _contact_value(value)
                        and (key in self.candidates or len(self.candidates) < KEEP_COLUMNS)
                        and not self.columns.someone_else(key)):
                    self.candidates[key] += 1
        doctor = appointment.practitioner
        if doctor is not None and doctor.external_id:
            self.with_doctor += 1
            self.doctor_known += bool(doctor.name or doctor.email)
            self.doctor_emailed += bool(doctor.email)

    def summary(self) -> dict[str, Any]:
        return {"upcoming": self.upcoming, "reachable": self.reachable, "with_doctor": self.with_doctor,
                "doctor_named_or_emailed": self.doctor_known, "no_patient": self.no_patient}

    def describe(self) -> str:
        if not self.upcoming:
            return "no upcoming visits"
        alone = (f", {self.no_patient} of {self.upcoming} upcoming visits have no patient (nobody to remind)"
                 if self.no_patient else "")
        return (f"{share(self.reachable, self.upcoming)} upcoming visits can be reminded (a phone or an email)"
                f"{alone}, {share(self.with_doctor, self.upcoming)} have a doctor")

    def findings(self) -> list[Finding]:
        if self.upcoming < MIN_UPCOMING:
            return []
        found = []
        if self.reachable < LOW * self.upcoming:
            found.append(self._unreachable())
        if self.needs.doctors and self.with_doctor >= MIN_UPCOMING and not self.doctor_known:
            found.append(Finding("reach", "error", "practitioner.name",
                                 f"practitioner.name, practitioner.email: none of the {self.with_doctor} upcoming "
                                 f"visits with a doctor has the doctor's name or email{self._reads('practitioner')}: "
                                 "calendars and agendas reach nobody. The doctor id is likely a slot's, a "
                                 "resource's or a schedule's key: follow it in the connector's query to the user, "
                                 "staff or person row, and map practitioner.name and practitioner.email from it"))
        elif (self.needs.agendas and self.with_doctor >= MIN_UPCOMING and not self.doctor_emailed
              and (mapped := reads(self.preset, "practitioner.email"))):
            found.append(Finding("reach", "warning", "practitioner.email",
                                 f"practitioner.email: none of the {self.with_doctor} upcoming visits with a doctor "
                                 f"has the doctor's email{mapped}: no doctor gets an agenda. The column is read "
                                 "from rows no doctor has (a table of typed contact rows kept for the patients?): "
                                 "map practitioner.email from the column of the doctor's own row that holds it, "
                                 "or turn agendas off (reminders.agenda.enabled: false)"))
        if self.needs.doctors and not self.with_doctor:
            found.append(Finding("reach", "error", "practitioner.external_id",
                                 f"practitioner.external_id: none of the {self.upcoming} upcoming visits has a "
                                 f"doctor{self._reads('practitioner')}, so calendars and doctors' agendas reach "
                                 "nobody. Map practitioner.external_id, name and email (a provider through a link "
                                 "table: join it in the query), or turn them off (calendar.provider: none, "
                                 "reminders.agenda.enabled: false)"))
        elif self.with_doctor < LOW * self.upcoming:
            found.append(Finding("reach", "warning", "practitioner.external_id",
                                 f"practitioner.external_id: only {share(self.with_doctor, self.upcoming)} upcoming "
                                 "visits have a doctor: the others reach no doctor's calendar or agenda. Map "
                                 "practitioner.external_id (a provider through a link table: join it in the query)"))
        return found

    def _reads(self, who: str) -> str:
        return "".join(reads(self.preset, f"{who}.{part}") for part in ("name", "email"))

    def _unreachable(self) -> Finding:
        level: Level = "error" if self.needs.reminders else "warning"
        seen = f"only {share(self.reachable, self.upcoming)} upcoming visits have a usable phone or email"
        mapped = self._reads_contact()
        if self.unsent:
            kinds = " and ".join(f"{n} have only {'a phone' if k == 'phone' else 'an email'}"
                                 for k, n in self.unsent.most_common())
            sent = ", ".join(c for c in self.needs.listed if self.needs.routed and c in self.needs.routed) or "none"
            hint = (f"{kinds}, which no channel that is sent reaches (reminders.channels sent by a notifier: "
                    f"{sent}): add a notifier for {'SMS' if 'phone' in self.unsent else 'email'} under `notifiers:` "
                    "and list its channel in reminders.channels (docs/notifiers.md)")
        elif self.refused >= (self.upcoming - self.reachable) / 2:
            consent = "".join(reads(self.preset, f"patient.{part}") for part in ("allow_sms", "allow_email"))
            hint = (f"{self.refused} of them have a phone or an email, and the consent mapped says no"
                    f"{consent or ' (patient.allow_sms, patient.allow_email)'}: if that column is not the "
                    "patients' consent to reminders (a default left unset says no on every row), drop it from "
                    "the mapping; if it is, these patients said no, and reminders reach only the others")
        elif self.candidates:
            ranked = sorted(self.candidates.items(), key=lambda item: (not self.columns.patients_own(item[0]),
                                                                       -item[1]))
            named = ", ".join(f"`{c}` (on {n})" for c, n in ranked[:3])
            hint = (f"the likeliest columns: {named}, which hold a phone or an email on visits that have none: map "
                    "patient.phone or patient.email from them")
        else:
            hint = ("no column the source returns holds a phone or an email on these visits: join the patient's "
                    "contact table (phones kept in another table) in the connector's query and map patient.phone "
                    "and patient.email from it")
        return Finding("reach", level, "patient.phone",
                       f"patient.phone, patient.email: {seen}{mapped}: the others get no reminder"
                       + (", so reminders cannot do their job" if level == "error" else "") + f". {hint}")

    def _reads_contact(self) -> str:
        return "".join(reads(self.preset, f"patient.{part}") for part in ("phone", "email"))
