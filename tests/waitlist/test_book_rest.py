"""Booking for a REST API source: a signed callback (HMAC-SHA256 over timestamp and body) with
an Idempotency-Key, retried with backoff through an outage, never sent again once answered;
a 4xx is a refusal."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import respx

from clinicsync.connectors.rest_callback import Callback
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.book import run_booking
from tests.waitlist.book_rows import NOW, entry_row, seed, slot_row

HOOK = "https://booking.example.org/hooks/clinicsync"
SECRET = "a-shared-secret-of-some-length"
DIGEST = "0" * 64


@pytest.fixture
def settings(write_settings: Callable[..., Path]) -> Settings:
    return load_settings(write_settings(connectors=f"""
        - name: site
          kind: rest_api
          api_keys: [{{name: site, sha256: "{DIGEST}"}}]
          waitlist_callback:
            url: {HOOK}
            secret: {SECRET}
            attempts: 4
        """))


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waited: list[float] = []
    monkeypatch.setattr(Callback, "sleep", staticmethod(waited.append))
    return waited


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_callback_is_signed_retried_through_an_outage_and_sent_once(
        settings: Settings, store: Store, sleeps: list[float]) -> None:
    seeded = seed(store, "site")
    with respx.mock() as router:
        route = router.post(HOOK).mock(side_effect=[httpx.Response(503), httpx.ConnectError("down"),
                                                    httpx.Response(201, json={"id": "bk-77"})])
        assert run_booking(settings, store, NOW)["written"] == 1
        assert route.call_count == 3 and len(sleeps) == 2
        request = route.calls.last.request
        body = request.content
        assert request.headers["Idempotency-Key"] == f"waitlist-slot-{seeded.slot_id}"
        stamp, mac = (part.split("=", 1)[1] for part in request.headers["X-Clinicsync-Signature"].split(","))
        assert mac == hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        sent = json.loads(body)
        assert (sent["patient_id"], sent["doctor_id"], sent["slot_id"]) == ("p2", "d1", seeded.slot_id)
        assert sent["waitlist_entry"] == {"source": "site", "id": "wl-1"}
        # answered: never sent again
        assert run_booking(settings, store, NOW)["written"] == 0
        assert route.call_count == 3
    slot = slot_row(store, seeded.slot_id)
    assert (slot.booking_status, slot.booked_external_id) == ("written", "bk-77")
    assert entry_row(store, seeded.entry_id).status == "booked"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_an_outage_longer_than_the_retries_keeps_it_pending_with_the_same_key(
        settings: Settings, store: Store, sleeps: list[float]) -> None:
    seeded = seed(store, "site")
    with respx.mock() as router:
        route = router.post(HOOK).mock(return_value=httpx.Response(502))
        assert run_booking(settings, store, NOW)["retrying"] == 1
        assert route.call_count == 4
        slot = slot_row(store, seeded.slot_id)
        assert slot.booking_status == "pending"
        assert "answered HTTP 502 (gave up after 4 attempts)" in slot.booking_error
        route.mock(return_value=httpx.Response(200))
        assert run_booking(settings, store, NOW)["written"] == 1
        keys = {call.request.headers["Idempotency-Key"] for call in route.calls}
    assert keys == {f"waitlist-slot-{seeded.slot_id}"}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_refusal_is_not_retried(settings: Settings, store: Store, sleeps: list[float]) -> None:
    seeded = seed(store, "site")
    with respx.mock() as router:
        route = router.post(HOOK).mock(return_value=httpx.Response(409, json={"error": "slot taken"}))
        assert run_booking(settings, store, NOW)["failed"] == 1
        assert route.call_count == 1
    assert slot_row(store, seeded.slot_id).booking_error == "connector site: waitlist callback answered HTTP 409"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_patient_waiting_at_another_source_is_booked_where_known_else_the_desk_books_them(
        settings: Settings, store: Store, sleeps: list[float]) -> None:
    """The entry came from another source (its patient is that source's): the slot's source is
    written when it knows the patient by the same id; when it does not, the desk books it."""
    from sqlalchemy import delete

    from clinicsync.sync.store.tables import PATIENTS

    known = seed(store, "site", entry_connector="office")
    unknown = seed(store, "site", entry_connector="office", patient_ref="p3", entry_external_id="wl-2",
                   start=NOW + timedelta(days=3))
    with store.engine.begin() as connection:
        connection.execute(delete(PATIENTS).where(PATIENTS.c.connector == "site", PATIENTS.c.external_id == "p3"))
    with respx.mock() as router:
        route = router.post(HOOK).mock(return_value=httpx.Response(201, json={"id": "bk-80"}))
        report = run_booking(settings, store, NOW)
    assert (report["written"], report["desk_task"], report["set_aside"]) == (1, 1, 0), report
    assert route.call_count == 1 and json.loads(route.calls.last.request.content)["patient_id"] == "p2"
    assert slot_row(store, known.slot_id).booking_status == "written"
    unbooked = slot_row(store, unknown.slot_id)
    assert (unbooked.booking_status, unbooked.booking_error) == (
        "desk_task", "the waiting patient is not a patient of site yet: book it by hand")
