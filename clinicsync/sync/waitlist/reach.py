"""Can an entry ever be offered a slot, and which later visit does it name?

An entry that maps may still be one no offer can ever reach: a patient with no phone and no
email (here or from their visits), a phone that is no number and nothing else, a doctor the
source never had a visit of (no slot of theirs is ever freed), or only periods that are over.
Stored silently, it sat on the list for ever while the clinic believed the patient was being
offered slots. So the way in refuses it: the REST API with a 422 naming the field, a source by
quarantining the record (sync/store/quarantine.py: one item however often the source lists it, the
reason naming the field and never the value).

The same check resolves the entry's later visit (``later_appointment.external_id``, an
appointment id of the same source) to the stored appointment, the patient's own: that is the
one released when the patient takes an earlier slot (release.py). It runs after the
connectors of a run have stored their appointments and people, so a source that lists the
visit and the waiting entry in the same run is read in the right order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from clinicsync.common.waitlist_states import EntryStatus
from clinicsync.mappings.model import NormalizedPatient
from clinicsync.mappings.waitlist import NormalizedWaitlistEntry
from clinicsync.sync.store.tables import APPOINTMENTS as A
from clinicsync.sync.store.tables import PATIENTS as P
from clinicsync.sync.store.tables import PRACTITIONERS as D
from clinicsync.sync.waitlist.entries import NewEntry

LATER = "later_appointment.external_id"


@dataclass(frozen=True)
class Refusal:
    """Why an entry is refused: the mapping field and a reason without the value."""

    field: str
    reason: str


@dataclass(frozen=True)
class Checked:
    refusal: Refusal | None = None
    later_appointment_id: int | None = None  # appointment.id of the named later visit


def check_entry(connection: Connection, connector: str, entry: NormalizedWaitlistEntry, now: datetime) -> Checked:
    """Refuse a waiting entry no offer could reach; resolve its later visit. An entry the
    source takes off its list is never refused (there is nothing to offer)."""
    if entry.status != EntryStatus.WAITING:
        return Checked()
    refusal = (_unreachable(connection, connector, entry) or _unknown_doctor(connection, connector, entry)
               or _only_past(entry, now))
    if refusal is not None:
        return Checked(refusal)
    if entry.later_appointment_ref is None:
        return Checked()
    later = connection.execute(select(A.c.id, A.c.patient_ref).where(
        A.c.connector == connector, A.c.external_id == entry.later_appointment_ref, A.c.deleted_at.is_(None))).first()
    if later is None:
        return Checked(Refusal(LATER, "no appointment with this id at this source (send the appointment first)"))
    if later.patient_ref != entry.patient.external_id:
        return Checked(Refusal(LATER, "an appointment of another patient"))
    return Checked(None, int(later.id))


def check_desk_entry(connection: Connection, new: NewEntry, now: datetime) -> Refusal | None:
    """For the desk's "Add to waitlist" form (sync/ui): the same refusal as a source's or the
    API's for an entry the desk is about to add (its patient's contact details, its doctor and
    its periods, from the store), so the form can show it by field instead of storing an entry
    nobody can be offered. With :func:`~clinicsync.sync.waitlist.entries.duplicate_of`, the
    form's two server-side checks."""
    entry = NormalizedWaitlistEntry(external_id="desk", patient=NormalizedPatient(external_id=new.patient_ref),
                                    timezone=new.timezone, practitioner_ref=new.practitioner_ref,
                                    windows=new.windows)
    return check_entry(connection, new.connector, entry, now).refusal


def _unreachable(connection: Connection, connector: str, entry: NormalizedWaitlistEntry) -> Refusal | None:
    patient = entry.patient
    if patient.phone or patient.email:
        return None
    known = connection.execute(select(P.c.phone, P.c.email).where(
        P.c.connector == connector, P.c.external_id == patient.external_id)).first()
    if known is not None and (known.phone or known.email):
        return None
    field = entry.dropped[0] if entry.dropped else "patient.phone"
    what = "not a usable phone or email" if entry.dropped else "no phone and no email"
    return Refusal(field, f"{what}, here or from the patient's visits: no offer could reach the patient "
                          "(give a phone or an email)")


def _unknown_doctor(connection: Connection, connector: str, entry: NormalizedWaitlistEntry) -> Refusal | None:
    if entry.practitioner_ref is None:
        return None
    known = connection.execute(select(D.c.external_id).where(
        D.c.connector == connector, D.c.external_id == entry.practitioner_ref)).first()
    if known is not None:
        return None
    return Refusal("practitioner.external_id", "no doctor with this id at this source (none of their visits was "
                                               "imported): no slot of theirs can be offered; leave it empty for "
                                               "any doctor")


def _only_past(entry: NormalizedWaitlistEntry, now: datetime) -> Refusal | None:
    """Only absolute periods, every one over: no slot can ever fit."""
    if not entry.windows or any("days" in window for window in entry.windows):
        return None
    ends = [window.get("end") for window in entry.windows]
    if any(end is None for end in ends):
        return None
    if all(datetime.fromisoformat(str(end).replace("Z", "+00:00")) <= now for end in ends):
        field = entry.period_fields[-1] if entry.period_fields else "periods"
        return Refusal(field, "every period the patient can come is over: no slot can fit")
    return None
