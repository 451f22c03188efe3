"""A FHIR Subscription notification carrying an Appointment with status waitlist (the
loopback FHIR server notifying the real app): a waiting patient, never stored as an
appointment; the waitlist listing of the next run reads it."""

from __future__ import annotations

import pytest

from clinicsync.sync.store.store import Store
from tests.connectors.fhir_fake import FakeFhir, appointment
from tests.connectors.fhir_notify import Notifier
from tests.connectors.test_fhir_subscriptions import app_client, fake, notifier, rows, seed, settings  # noqa: F401

pytestmark = pytest.mark.anyio


async def test_a_notified_waitlist_appointment_is_no_appointment(fake: FakeFhir, notifier: Notifier,  # noqa: F811
                                                                 store: Store) -> None:
    seed(fake, "a1")
    fake.put(appointment("w1", None, "p1", "d1", "l1", status="waitlist"))
    answer = await notifier.put("w1")
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"] == {"waitlist": 1}
    assert (await notifier.put("a1")).json()["results"] == {"created": 1}
    assert set(rows(store)) == {"a1"}
