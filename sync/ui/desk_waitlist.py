"""The waitlist's tasks as the front desk reads them at the top of Today (issue 58, obs 4): a
patient was told "this slot is yours", so the task comes first and is counted with the rest.
In the desk's words: the patient's name, the phone formatted for dialling with a tap-to-call
link, and the clinic's name for its system (a connector's ``label:``) instead of connector
names, source ids and raw error text."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from clinicsync.sync.settings import Settings
from clinicsync.sync.ui.desk import source_kind
from clinicsync.sync.ui.mask import phone_local
from clinicsync.sync.waitlist.book_tasks import WaitlistTask


@dataclass(frozen=True)
class DeskTask:
    task: WaitlistTask
    phone: str  # formatted for dialling ('(212) 555-0142'); '' when masked or unknown
    tel: str | None  # E.164 for the tel: link
    system: str  # the clinic's name for the system the slot is in
    why: str | None  # in the desk's words


def _tel(phone: str | None, region: str) -> str | None:
    if not phone:
        return None
    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _why(task: WaitlistTask, system: str) -> str | None:
    """Why this is the desk's, without connector names: a slot in a system clinicsync does not
    book into is booked by hand there; a refusal keeps the source's reason, named by its system."""
    if task.kind == "book":
        return f"clinicsync does not book into {system}: book the patient there by hand, then press “Booked by hand”."
    if task.reason:
        return task.reason.replace(f"connector {task.connector}", system).replace(task.connector, system)
    return None


def desk_tasks(settings: Settings, tasks: list[WaitlistTask]) -> list[DeskTask]:
    region = settings.clinic.default_region
    out = []
    for task in tasks:
        system = source_kind(settings, task.connector)
        out.append(DeskTask(task=task, phone=phone_local(task.phone, region), tel=_tel(task.phone, region),
                            system=system, why=_why(task, system)))
    return out
