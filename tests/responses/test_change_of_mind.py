"""A link stays usable until the visit and the latest answer stands (issue 30, obs 11): a
patient who confirmed can later cancel, and the cancel does everything a first cancel does
(pending reminders cancelled, the doctor told, the decline written back, superseding the
confirmation); a cancel is final online and its page names the visit."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from clinicsync.common.types import utcnow
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.reminders.links import make_token
from clinicsync.sync.responses.link_page import answer
from clinicsync.sync.responses.writeback import process_writebacks
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.responses import RESPONSES, WRITEBACKS
from clinicsync.sync.store.store import Store
from tests.connectors.fhir_fake import FakeFhir, appointment, patient, practitioner
from tests.connectors.test_fhir_writeback import patient_status
from tests.responses.test_answer_page import client, settings, text
from tests.responses.test_links import SERVER, booked, links
from tests.responses.test_record import participation, rows
from tests.responses.test_writeback import config

A_TABLE = Appointment.__table__  # type: ignore[attr-defined]
__all__ = ["client", "config", "settings"]  # fixtures shared with the page and write-back tests


@pytest.mark.anyio
async def test_confirm_then_cancel_through_the_same_link(client: httpx.AsyncClient, settings: Settings,
                                                         store: Store, tmp_path: Path) -> None:
    url = links(booked(settings, store, tmp_path, language="en"))["confirm"]
    assert (await client.post(url, data={"choice": "confirm"})).status_code == 200
    assert participation(store) == {"A1": "accepted"}
    pending = [r for r in rows(store, REMINDERS) if r.recipient == "patient" and r.status == "pending"]
    assert pending  # the 1-day reminder still waits: a confirmation cancels nothing

    later = await client.get(url)  # days later, the same link from the same email
    seen = text(later)
    assert later.status_code == 200 and "You confirmed this appointment." in seen and "Changed your mind?" in seen
    assert 'id="confirm"' not in later.text and 'id="cancel"' in later.text and 'id="reschedule"' in later.text
    step = await client.get(url, params={"step": "cancel"})
    assert "Cancel this appointment?" in text(step)
    done = await client.post(url, data={"choice": "decline"})
    seen = text(done)
    assert done.status_code == 200 and "Your appointment is cancelled. The clinic has been told." in seen
    assert "Wed, Jun 12, 2030" in seen and "10:00 AM" in seen and "Dr. Amelia Hart" in seen  # which visit
    assert "To book another time, please call the clinic." in seen

    # Everything a first cancel does: the answer, the reminders, the doctor, the write-back.
    assert participation(store) == {"A1": "declined"}
    answers = rows(store, RESPONSES)
    assert [r.action for r in answers] == ["confirm", "decline"]
    assert answers[1].provider_id == answers[0].provider_id + ":2"
    reminders = rows(store, REMINDERS)
    assert {r.status for r in reminders if r.id in {p.id for p in pending}} == {"cancelled"}
    assert [(r.recipient, r.kind, r.status) for r in reminders if r.recipient == "practitioner"] == [
        ("practitioner", "declined", "pending")]
    assert [w.participant_status for w in rows(store, WRITEBACKS)] == ["accepted", "declined"]

    # Cancelled is final online: another answer changes nothing, the page still names the visit.
    assert (await client.post(url, data={"choice": "confirm"})).status_code == 409
    assert participation(store) == {"A1": "declined"} and len(rows(store, RESPONSES)) == 2
    again = await client.get(url)
    assert again.status_code == 200 and "This appointment is cancelled." in text(again)
    assert "Dr. Amelia Hart" in text(again) and 'id="confirm"' not in again.text
    assert (await client.get(f"{url}/visit.ics")).status_code == 410  # nothing to add to a calendar


@pytest.mark.anyio
async def test_asking_for_another_time_then_keeping_it(client: httpx.AsyncClient, settings: Settings,
                                                       store: Store, tmp_path: Path) -> None:
    url = links(booked(settings, store, tmp_path, language="es"))["confirm"]
    await client.post(url, data={"choice": "confirm"})
    asked = await client.post(url, data={"choice": "reschedule", "note": "mañanas"})
    assert asked.status_code == 200 and "La recepción le llamará" in text(asked)
    page = text(await client.get(url))
    assert "Usted pidió otra hora." in page and "esta cita sigue reservada" in page and "Sí, iré" in page
    kept = await client.post(url, data={"choice": "confirm"})
    assert kept.status_code == 200 and "Gracias, su cita está confirmada." in text(kept)
    assert "Usted confirmó esta cita." in text(await client.get(url))
    assert [r.action for r in rows(store, RESPONSES)] == ["confirm", "reschedule", "confirm"]
    assert participation(store) == {"A1": "accepted"}
    assert (await client.post(url, data={"choice": "confirm"})).status_code == 200  # a reload: no new row
    assert len(rows(store, RESPONSES)) == 3


def test_a_confirm_then_cancel_reaches_the_fhir_source_as_a_cancel(fhir_server: FakeFhir, config: Path,
                                                                   cli: Any, store: Store) -> None:
    fake = fhir_server
    fake.put(patient("p1", language="en"))
    fake.put(practitioner("d1"))
    fake.put(appointment("a1", fake.clock + timedelta(days=2), "p1", "d1"))
    config.write_text(config.read_text() + SERVER + "responses:\n  decline_cancels: true\n")  # links, cancels
    run = cli(config)
    run("db", "upgrade")
    run("sync", "--once", "--json")
    settings = load_settings(config)
    key = _sent_confirmation(store)
    token = make_token(settings, key, "confirm")

    confirmed = answer(settings, store, token, {"choice": "confirm"})
    assert confirmed.status_code == 200
    assert process_writebacks(settings, store, utcnow())["done"] == 1
    assert patient_status(fake.get("Appointment/a1")) == "accepted"

    cancelled = answer(settings, store, token, {"choice": "decline"})
    assert cancelled.status_code == 200 and b"Your appointment is cancelled." in cancelled.body
    assert process_writebacks(settings, store, utcnow())["done"] == 1
    stored = fake.get("Appointment/a1")
    assert patient_status(stored) == "declined" and stored["status"] == "cancelled"
    assert [w.status for w in rows(store, WRITEBACKS)] == ["done", "done"]


def _sent_confirmation(store: Store) -> str:
    """The confirmation email the patient got for ehr:a1 (as the dispatcher records it)."""
    now = utcnow()
    with store.engine.begin() as connection:
        a = connection.execute(select(A_TABLE).where(A_TABLE.c.external_id == "a1")).one()
        key = f"a{a.id}:patient:confirmation:v{a.version}"
        connection.execute(insert(REMINDERS).values(
            key=key, appointment_id=a.id, connector="ehr", recipient="patient", recipient_ref=a.patient_ref,
            kind="confirmation", version=a.version, starts_at=a.start_utc, due_at=now, status="sent",
            channel="email", tried="", attempts=1, sent_at=now, created_at=now, updated_at=now))
    return key
