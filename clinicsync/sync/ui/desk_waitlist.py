"""The waitlist's tasks as the front desk reads them at the top of Today: a
patient was told "this slot is yours", so the task comes first and is counted with the rest.
In the desk's words: the patient's name, the phone formatted for dialling with a tap-to-call
link, and the clinic's name for its system (a connector's ``label:``) instead of connector
names, source ids and raw error text."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import select, tuple_

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.desk.sources import source_kind
from clinicsync.sync.reminders.compose import shown_number
from clinicsync.sync.store.model import Location, table_of
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.book_tasks import WaitlistTask


@dataclass(frozen=True)
class DeskTask:
    task: WaitlistTask
    phone: str  # formatted for dialling ('(212) 555-0142'); '' when masked or unknown
    tel: str | None  # E.164 for the tel: link
    system: str  # the clinic's name for the system the slot is in
    place: str | None  # the location's name, else its id at the source
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
    if task.kind == "coming":
        return (f"The patient took this slot: the booking stage writes it to {system} at its next run, "
                "or puts it here as a task if it cannot. Nothing to do yet.")
    if task.kind == "book":
        return f"clinicsync does not book into {system}: book the patient there by hand, then press “Booked by hand”."
    if task.reason:
        named = re.escape(task.connector)  # the whole name only: connector "a" is not every letter a
        return re.sub(rf"(?<![\w-])(?:connector )?{named}(?![\w-])", lambda _: system, task.reason)
    return None


def _places(store: Store, tasks: list[WaitlistTask]) -> dict[tuple[str, str], str]:
    """The names of the tasks' locations, where the source gave one."""
    keys = {(t.connector, t.location) for t in tasks if t.location}
    if not keys:
        return {}
    L = table_of(Location).c
    with store.engine.connect() as connection:
        rows = connection.execute(select(L.connector, L.external_id, L.name).where(
            tuple_(L.connector, L.external_id).in_(list(keys)), L.name.is_not(None)))
        return {(r.connector, r.external_id): r.name for r in rows}


def desk_tasks(settings: Settings, store: Store, tasks: list[WaitlistTask]) -> list[DeskTask]:
    region = settings.clinic.default_region
    places = _places(store, tasks)
    out = []
    for task in tasks:
        system = source_kind(settings, task.connector)
        place = places.get((task.connector, task.location or ""), task.location)
        out.append(DeskTask(task=task, phone=shown_number(task.phone, region) or "", tel=_tel(task.phone, region),
                            system=system, place=place, why=_why(task, system)))
    return out
