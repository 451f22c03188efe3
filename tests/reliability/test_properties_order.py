"""Order-free application, per source kind (issue 29; hypothesis, bounded): a generated
history of one appointment — created, rescheduled, cancelled, deleted — delivered as vendors
deliver (reordered, delayed, some messages twice, split between two replicas of the server)
ends in the same store as the history delivered in order, on SQLite and PostgreSQL.

Each source is two connectors of the same kind on one store: ``ref`` gets the history in
order, ``mix`` the interleaving, both through the real app (two app instances: two replicas
on one store). Bodies are the vendors' captured payloads (tests/fixtures/<vendor>/) with the
times and ids of the history. Each example uses fresh ids, so examples share the store.

Not covered, by design: the REST API's ``POST …/cancel`` of an id not stored yet answers 404
(the caller is told, and resends); PUT with ``status: cancelled`` is the order-free cancel."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.store import Store
from tests.connectors.fhir_fake import FakeFhir, appointment, location, patient, practitioner
from tests.server.booking_support import fixture, hex_hmac

SCALE = float(os.environ.get("CLINICSYNC_HYPOTHESIS_SCALE", "1"))
BOUNDED = settings(max_examples=max(1, int(5 * SCALE)), deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
A = Appointment.__table__  # type: ignore[attr-defined]
KEYS = {name: f"csk_test-order-{name}-0123456789abcdefghijklmnopq" for name in ("ref", "mix")}
CAL_SECRET, EA_TOKEN, FHIR_SECRET = "test-cal-secret", "test-ea-token-0123456789", "fhir-hook-secret-0123456789abcdef"

# A history: its steps in order; each is (kind, slot): kind in create/reschedule/cancel/delete,
# slot the start's offset in hours (a reschedule moves the appointment there).
STEPS = st.lists(st.tuples(st.sampled_from(["reschedule", "reschedule", "cancel"]), st.integers(1, 40)),
                 max_size=3)
HISTORY = st.tuples(st.integers(1, 40), STEPS, st.booleans()).map(
    lambda h: [("create", h[0]), *h[1], *([("delete", 0)] if h[2] else [])])


@st.composite
def deliveries(draw: st.DrawFn, history: list[Any]) -> list[tuple[int, int]]:
    """(message index, replica) in arrival order: the history reordered (a delay is a later
    place), up to two messages delivered twice, each delivery to either replica."""
    order = draw(st.permutations(range(len(history))))
    copies = draw(st.lists(st.sampled_from(range(len(history))), max_size=2))
    arrival = list(order)
    for copy in copies:
        arrival.insert(draw(st.integers(0, len(arrival))), copy)
    return [(index, draw(st.integers(0, 1))) for index in arrival]


SCENARIO = HISTORY.flatmap(lambda history: st.tuples(st.just(history), deliveries(history)))


def state(store: Store, connector: str, ids: set[str]) -> dict[str, tuple[Any, ...]]:
    """What a source's appointments are now: the live ones, by id."""
    with store.engine.connect() as connection:
        rows = connection.execute(select(A).where(A.c.connector == connector, A.c.external_id.in_(ids),
                                                  A.c.deleted_at.is_(None)))
        return {row.external_id: (row.status, row.start_utc, row.end_utc, row.practitioner_ref) for row in rows}


@pytest.fixture
def replicas(write_settings: Callable[..., Path], store: Store) -> Iterator[tuple[list[TestClient], FakeFhir]]:
    with FakeFhir() as fake:
        fake.put(patient("p1"))
        fake.put(practitioner("d1"))
        fake.put(location("l1"))
        connectors = ""
        for name in ("ref", "mix"):
            connectors += f"""
- {{name: api-{name}, kind: rest_api, api_keys: [{{name: site, sha256: {key_digest(KEYS[name])}}}],
   rate_per_second: 1000, burst: 1000}}
- {{name: cal-{name}, kind: calcom, secret: {CAL_SECRET}, rate_per_second: 1000, burst: 1000}}
- {{name: ea-{name}, kind: easyappointments, token: {EA_TOKEN}, timezone: Europe/Madrid, rate_per_second: 1000,
   burst: 1000}}
- name: ehr-{name}
  kind: fhir
  base_url: {fake.base_url}
  subscription: {{secret: {FHIR_SECRET}, payload: full-resource}}
"""
        config = load_settings(write_settings(connectors=connectors))
        apps = [create_app(config, store) for _ in range(2)]  # two replicas on one store
        clients = [TestClient(app, raise_server_exceptions=True) for app in apps]
        try:
            yield clients, fake
        finally:
            for app in apps:
                app.state.fhir_inboxes.close()


def check(store: Store, kind: str, history: list[Any], arrival: list[tuple[int, int]],
          send: Callable[[str, int, int], None], ids: set[str]) -> None:
    """Deliver the history in order to ``ref`` (replica 0), the interleaving to ``mix``; the
    two sources must end alike."""
    for index in range(len(history)):
        send("ref", index, 0)
    for index, replica in arrival:
        if index < len(history):
            send("mix", index, replica)
    expected = state(store, f"{kind}-ref", ids)
    assert state(store, f"{kind}-mix", ids) == expected, (history, arrival)


def until_gone(history: list[Any], gone: tuple[str, ...], drop: tuple[str, ...] = ()) -> list[Any]:
    """The history up to its first step that ends the booking at this source (nothing of it
    can follow: Easy!Appointments deleted the row, Cal.com cancelled the booking), without
    the steps the source cannot make."""
    kept: list[Any] = []
    for step in history:
        if step[0] in drop:
            continue
        kept.append(step)
        if step[0] in gone:
            break
    return kept


def as_of(history: list[Any], index: int) -> tuple[int, str]:
    """The appointment's slot (hours after BASE) and status once step ``index`` happened."""
    slot, status = history[0][1], "booked"
    for kind, hours in history[1:index + 1]:
        if kind == "reschedule":
            slot, status = hours, "booked"
        elif kind == "cancel":
            status = "cancelled"
    return slot, status


BASE = datetime(2031, 5, 4, 9, 0, tzinfo=UTC)
CHANGED = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)  # the history's change times: one minute apart, in the past


def _ok(response: Any) -> None:
    assert response.status_code in (200, 201), response.text


@BOUNDED
@given(SCENARIO)
def test_rest_api(replicas: tuple[list[TestClient], FakeFhir], store: Store,
                  scenario: tuple[list[Any], list[tuple[int, int]]]) -> None:
    history = until_gone(scenario[0], (), drop=("delete",))  # the API has no delete; a cancel may be undone
    booking = json.loads(_docs_body())
    aid = f"B-{uuid.uuid4().hex[:8]}"

    def send(source: str, index: int, replica: int) -> None:
        slot, status = as_of(history, index)
        body = {**booking, "id": aid, "status": status, "start": (BASE + timedelta(hours=slot)).isoformat(),
                "updated_at": (CHANGED + timedelta(minutes=index)).isoformat()}
        _ok(replicas[0][replica].put(f"/api/v1/appointments/{aid}", json=body,
                                     headers={"Authorization": f"Bearer {KEYS[source]}"}))

    check(store, "api", history, scenario[1], send, {aid})


@BOUNDED
@given(SCENARIO)
def test_calcom(replicas: tuple[list[TestClient], FakeFhir], store: Store,
                scenario: tuple[list[Any], list[tuple[int, int]]]) -> None:
    """Each reschedule a new uid naming the previous one; the cancel names the latest."""
    history = until_gone(scenario[0], ("cancel",), drop=("delete",))
    prefix = uuid.uuid4().hex[:8]
    sent = datetime.now(UTC) - timedelta(seconds=120)
    bodies: list[bytes] = []
    generation = 0
    for index, (kind, _) in enumerate(history):
        slot, _status = as_of(history, index)
        start = BASE + timedelta(hours=slot)
        uid = f"{prefix}-{generation}"
        file, extra = "booking_created.json", {}
        if kind == "reschedule":
            generation += 1
            file, extra = "booking_rescheduled.json", {"rescheduleUid": uid}
            uid = f"{prefix}-{generation}"
        elif kind == "cancel":
            file = "booking_cancelled.json"
        data = json.loads(fixture("calcom", file))
        data["createdAt"] = (sent + timedelta(seconds=index)).isoformat().replace("+00:00", "Z")
        data["payload"].update({"uid": uid, "startTime": start.isoformat(),
                                "endTime": (start + timedelta(minutes=30)).isoformat(), **extra})
        bodies.append(json.dumps(data, separators=(",", ":")).encode())

    def send(source: str, index: int, replica: int) -> None:
        raw = bodies[index]
        _ok(replicas[0][replica].post(f"/webhooks/calcom/cal-{source}", content=raw, headers={
            "Content-Type": "application/json", "X-Cal-Signature-256": hex_hmac(CAL_SECRET, raw)}))

    check(store, "cal", history, scenario[1], send, {f"{prefix}-{n}" for n in range(generation + 1)})


@BOUNDED
@given(SCENARIO)
def test_easyappointments(replicas: tuple[list[TestClient], FakeFhir], store: Store,
                          scenario: tuple[list[Any], list[tuple[int, int]]]) -> None:
    """Saves carry the row (the same id, its update_datetime); a cancel on the booking page
    deletes the row: the delete webhook carries it as it last was."""
    history = until_gone([("delete", 0) if kind == "cancel" else (kind, hours) for kind, hours in scenario[0]],
                         ("delete",))
    row_id = uuid.uuid4().int % 10**9
    madrid = ZoneInfo("Europe/Madrid")
    bodies: list[bytes] = []
    for index, (kind, _) in enumerate(history):
        slot, _status = as_of(history, index)
        start = (BASE + timedelta(hours=slot)).astimezone(madrid)
        data = json.loads(fixture("easyappointments", "appointment_save_created.json"))
        changed = CHANGED + timedelta(minutes=index if kind != "delete" else index - 1)
        data["action"] = "appointment_delete" if kind == "delete" else "appointment_save"
        data["payload"].update({"id": row_id, "start_datetime": f"{start:%Y-%m-%d %H:%M:%S}",
                                "end_datetime": f"{start + timedelta(minutes=30):%Y-%m-%d %H:%M:%S}",
                                "update_datetime": f"{changed.astimezone(madrid):%Y-%m-%d %H:%M:%S}"})
        bodies.append(json.dumps(data).encode())

    def send(source: str, index: int, replica: int) -> None:
        _ok(replicas[0][replica].post(f"/webhooks/easyappointments/ea-{source}", content=bodies[index], headers={
            "Content-Type": "application/json", "X-Ea-Token": EA_TOKEN}))

    check(store, "ea", history, scenario[1], send, {str(row_id)})


@BOUNDED
@given(SCENARIO)
def test_fhir_rest_hook(replicas: tuple[list[TestClient], FakeFhir], store: Store,
                        scenario: tuple[list[Any], list[tuple[int, int]]]) -> None:
    """An R4 rest-hook with the resource: PUT of each version (its meta.lastUpdated), DELETE."""
    history = until_gone(scenario[0], ("delete",))
    aid = f"a{uuid.uuid4().hex[:8]}"
    resources: list[dict[str, Any] | None] = []
    for index, (kind, _) in enumerate(history):
        if kind == "delete":
            resources.append(None)
            continue
        slot, status = as_of(history, index)
        resource = appointment(aid, BASE + timedelta(hours=slot), "p1", "d1", "l1", status=status)
        resource["meta"] = {"versionId": str(index + 1),
                            "lastUpdated": (CHANGED + timedelta(minutes=index)).isoformat().replace("+00:00", "Z")}
        resources.append(resource)

    def send(source: str, index: int, replica: int) -> None:
        client, resource = replicas[0][replica], resources[index]
        url, auth = f"/hooks/fhir/ehr-{source}/Appointment/{aid}", {"Authorization": f"Bearer {FHIR_SECRET}"}
        if resource is None:
            _ok(client.delete(url, headers=auth))
        else:
            _ok(client.put(url, content=json.dumps(resource),
                           headers={**auth, "Content-Type": "application/fhir+json"}))

    check(store, "ehr", history, scenario[1], send, {aid})


def _docs_body() -> str:
    """docs/api.md's example body, as printed."""
    text = (Path(__file__).parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    found = re.search(r"The body \(`rest_api_v1`\):\n\n```json\n(.*?)```", text, re.S)
    assert found is not None
    return found.group(1)
