"""Easy!Appointments webhooks end to end through the real app, with the rows its webhook
client sends (tests/fixtures/easyappointments, derived from its source) and its static token
header: booked, replayed, rescheduled (same id), deleted -> cancelled (also when the delete
comes first); missing or wrong tokens refused with nothing stored; malformed rows answered
400 naming the field or quarantined."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI
from sqlalchemy import select

from clinicsync.connectors.easyappointments import EasyAppointmentsConnector
from clinicsync.sync.config.settings import ConfigError, Settings, load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model import Patient
from clinicsync.sync.store.store import Store
from tests.server.booking_support import appointments, client_for, counted, events, fixture, quarantined, runs

pytestmark = pytest.mark.anyio
TOKEN = "test-ea-token"
URL = "/webhooks/easyappointments/ea"


@pytest.fixture
def settings(write_settings: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("EA_WEBHOOK_TOKEN", TOKEN)
    return load_settings(write_settings(connectors="""
- name: ea
  kind: easyappointments
  token: ${EA_WEBHOOK_TOKEN}
  timezone: Europe/Madrid
- name: renamed
  kind: easyappointments
  token: ${EA_WEBHOOK_TOKEN}
  token_header: X-Clinic-Hook
- name: with-api
  kind: easyappointments
  token: ${EA_WEBHOOK_TOKEN}
  api:
    url: https://booking.example.org/index.php/api/v1
    api_key: test-ea-api-key
"""))


@pytest.fixture
def app(settings: Settings, store: Store) -> FastAPI:
    return create_app(settings, store)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as client:
        yield client


async def send(client: httpx.AsyncClient, raw: bytes, token: str | None = TOKEN, header: str = "X-Ea-Token",
               url: str = URL) -> httpx.Response:
    headers = {"Content-Type": "application/json"} | ({header: token} if token is not None else {})
    return await client.post(url, content=raw, headers=headers)


def row(name: str, **changes: Any) -> bytes:
    data = json.loads(fixture("easyappointments", name))
    data["payload"].update(changes)
    return json.dumps(data).encode()


async def test_save_replay_reschedule_and_delete(client: httpx.AsyncClient, store: Store, app: FastAPI) -> None:
    created = fixture("easyappointments", "appointment_save_created.json")
    answer = await send(client, created)
    assert (answer.status_code, answer.json()) == (200, {"result": "created"})
    [stored] = appointments(store)
    assert (stored.external_id, stored.status, stored.timezone, stored.patient_ref, stored.practitioner_ref) == (
        "1", "booked", "Europe/Madrid", "5", "2")
    assert stored.start_utc.isoformat().startswith("2021-01-01T16:00")  # 17:00 in Madrid (CET, UTC+1)

    replay = await send(client, created)
    assert (replay.status_code, replay.json()) == (200, {"result": "unchanged"})
    assert len(appointments(store)) == 1 and events(store) == ["created"]

    moved = await send(client, fixture("easyappointments", "appointment_save_rescheduled.json"))
    assert moved.json() == {"result": "rescheduled"}
    [stored] = appointments(store)
    assert stored.start_utc.isoformat().startswith("2021-01-02T08:00")

    deleted = await send(client, fixture("easyappointments", "appointment_delete.json"))
    assert deleted.json() == {"result": "cancelled"}
    [stored] = appointments(store)
    assert stored.status == "cancelled"
    assert events(store) == ["created", "rescheduled", "cancelled"]
    assert counted(app, "easyappointments/ea", "rescheduled") == 1


async def test_an_older_save_never_undoes_a_reschedule(client: httpx.AsyncClient, store: Store) -> None:
    await send(client, fixture("easyappointments", "appointment_save_rescheduled.json"))
    late = await send(client, fixture("easyappointments", "appointment_save_created.json"))  # older update_datetime
    assert late.json() == {"result": "unchanged"}
    assert appointments(store)[0].start_utc.isoformat().startswith("2021-01-02T08:00")


async def test_a_delete_before_its_save_ends_cancelled_as_in_order(client: httpx.AsyncClient, store: Store) -> None:
    """The delete overtook its saves (issue 29 obs 4): the row it carries is stored cancelled,
    and the saves arriving late are older than the cancel: the appointment never turns booked."""
    answer = await send(client, fixture("easyappointments", "appointment_delete.json"))
    assert (answer.status_code, answer.json()) == (200, {"result": "created"})
    for late in ("appointment_save_created.json", "appointment_save_rescheduled.json"):
        assert (await send(client, fixture("easyappointments", late))).json() == {"result": "unchanged"}
    [stored] = appointments(store)
    assert (stored.status, stored.patient_ref, stored.practitioner_ref) == ("cancelled", "5", "2")
    assert stored.start_utc.isoformat().startswith("2021-01-02T08:00")


async def test_a_save_dated_ahead_of_the_clock_is_kept_undated_with_a_note(client: httpx.AsyncClient,
                                                                          store: Store) -> None:
    """A webhook cannot be refused usefully (it is retried as it is): its update_datetime far
    ahead is left out with a note, so it cannot freeze the appointment; the delete cancels it."""
    answer = await send(client, row("appointment_save_created.json", update_datetime="2099-01-01 00:00:00"))
    assert answer.json() == {"result": "created"}
    [stored] = appointments(store)
    assert stored.source_updated_at is None and "ahead of the clock" in (stored.quality_notes or "")
    assert (await send(client, row("appointment_save_rescheduled.json"))).json() == {"result": "rescheduled"}
    assert (await send(client, fixture("easyappointments", "appointment_delete.json"))).json() == {
        "result": "cancelled"}


@pytest.mark.parametrize(("token", "status"), [(None, 401), ("", 401), ("test-ea-token-nope", 403),
                                               ("TEST-EA-TOKEN", 403)])
async def test_missing_or_wrong_tokens_are_refused(client: httpx.AsyncClient, store: Store, token: str | None,
                                                   status: int) -> None:
    answer = await send(client, fixture("easyappointments", "appointment_save_created.json"), token)
    assert answer.status_code == status
    assert appointments(store) == [] and runs(store) == 0


async def test_the_admin_chosen_header_is_the_one_read(client: httpx.AsyncClient, store: Store) -> None:
    raw = fixture("easyappointments", "appointment_save_created.json")
    url = "/webhooks/easyappointments/renamed"
    assert (await send(client, raw, url=url)).status_code == 401  # X-Ea-Token is not this webhook's header
    answer = await send(client, raw, header="x-clinic-hook", url=url)  # header names are case-insensitive
    assert answer.json() == {"result": "created"}


async def test_malformed_rows_name_the_field(client: httpx.AsyncClient, store: Store) -> None:
    answer = await send(client, row("appointment_save_created.json", id="abc"))
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "payload.id"
    answer = await send(client, json.dumps({"payload": {}}).encode())
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "action"
    assert appointments(store) == [] and runs(store) == 0

    bad_time = await send(client, row("appointment_save_created.json", start_datetime="2021-13-45 25:00:00"))
    assert bad_time.json()["result"] == "quarantined" and bad_time.json()["field"] == "start"
    [item] = quarantined(store)
    assert item.field == "start" and appointments(store) == []


async def test_an_unknown_status_word_keeps_the_appointment_booked_with_a_note(client: httpx.AsyncClient,
                                                                               store: Store) -> None:
    answer = await send(client, row("appointment_save_created.json", status="Awaiting payment"))
    assert answer.json() == {"result": "created"}
    [stored] = appointments(store)
    assert stored.status == "booked" and "status" in (stored.quality_notes or "")


async def test_other_actions_and_unavailabilities_are_ignored(client: httpx.AsyncClient, store: Store) -> None:
    customer = json.dumps({"action": "customer_save", "payload": {"id": 5}}).encode()
    assert (await send(client, customer)).json() == {"result": "ignored"}
    blocked = row("appointment_save_created.json", is_unavailability=True)
    assert (await send(client, blocked)).json() == {"result": "ignored"}
    assert appointments(store) == []


def test_settings_name_the_bad_key(write_settings: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write_settings(connectors="""
- name: ea
  kind: easyappointments
  token: x
  token_header: "not a header"
"""))
    assert "token_header" in str(caught.value)


CUSTOMER_API = "https://booking.example.org/index.php/api/v1/customers/5"


def customer() -> dict[str, Any]:
    """The documented customer resource (docs/rest-api.md), with a phone that is a real number."""
    return json.loads(fixture("easyappointments", "api_v1_customer_GET.rest-api-md.json")) | {
        "id": 5, "phone": "+1 212 555 0123"}


async def test_with_api_the_customer_is_read_and_becomes_the_patient(client: httpx.AsyncClient,
                                                                    store: Store) -> None:
    with respx.mock(assert_all_called=True) as api:
        route = api.get(CUSTOMER_API, headers={"Authorization": "Bearer test-ea-api-key"})
        route.return_value = httpx.Response(200, json=customer())
        answer = await send(client, fixture("easyappointments", "appointment_save_created.json"),
                            url="/webhooks/easyappointments/with-api")
    assert answer.json() == {"result": "created"}
    with store.engine.connect() as connection:
        [patient] = connection.execute(select(Patient.__table__)).all()  # type: ignore[attr-defined]
    assert (patient.external_id, patient.name, patient.phone, patient.email, patient.language) == (
        "5", "John Doe", "+12125550123", "john@example.org", "en")


async def test_a_failed_customer_read_still_stores_the_appointment_with_a_note(
        client: httpx.AsyncClient, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EasyAppointmentsConnector, "max_wait", 0.01)
    with respx.mock() as api:
        route = api.get(CUSTOMER_API)
        route.return_value = httpx.Response(503)
        answer = await send(client, fixture("easyappointments", "appointment_save_created.json"),
                            url="/webhooks/easyappointments/with-api")
    assert answer.json() == {"result": "created"} and route.call_count == 3
    [stored] = appointments(store)
    assert stored.patient_ref == "5" and "customer could not be read" in (stored.quality_notes or "")
