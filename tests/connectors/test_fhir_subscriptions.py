"""FHIR Subscriptions end to end: a FHIR server (the loopback fake, read by the connector's
real client) notifies the real HTTP app the way HAPI and the Backport IG servers do. R4
rest-hook with the resource (PUT/DELETE) and without (an empty POST: the connector is
polled), topic-based Bundles with id-only, full-resource and empty content, handshakes and
heartbeats, a lost notification caught by a counter gap or by the next regular poll, and
a notification without the subscription's bearer refused before anything is read."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from clinicsync.common.types import utcnow
from clinicsync.connectors.fhir.notifications import NotificationError, read_notification, resource_key
from clinicsync.sync.checks.stalls import find_stalls
from clinicsync.sync.config.settings import ConfigError, Settings, load_settings
from clinicsync.sync.ingest.engine import sync_once
from clinicsync.sync.ingest.subscriptions import Heard, counter_gap, subscription_state
from clinicsync.sync.server.app import create_app
from clinicsync.sync.server.fhir_inbox import FhirInbox
from clinicsync.sync.store.model import Appointment, Event, Quarantine
from clinicsync.sync.store.store import Store
from tests.connectors.fhir_fake import FakeFhir, appointment, location, patient, practitioner
from tests.connectors.fhir_notify import FIXTURES, Notifier, example

pytestmark = pytest.mark.anyio
SECRET = "hook-secret-0123456789abcdef"
HOOK = "/hooks/fhir/ehr"
A = Appointment.__table__  # type: ignore[attr-defined]


@pytest.fixture
def fake() -> Any:
    with FakeFhir() as server:
        yield server


def fhir_source(name: str, fake: FakeFhir) -> str:
    """A fhir connector of ``fake`` with a full-resource rest-hook subscription."""
    return f"""
- name: {name}
  kind: fhir
  base_url: {fake.base_url}
  timezone: America/Chicago
  subscription:
    secret: {SECRET}
    payload: full-resource
"""


@pytest.fixture
def settings(write_settings: Callable[..., Path], fake: FakeFhir) -> Settings:
    return load_settings(write_settings(connectors=fhir_source("ehr", fake)))


@pytest.fixture
async def app_client(settings: Settings, store: Store) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_app(settings, store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://internal") as client:
        yield client, app
    app.state.fhir_inboxes.close()


@pytest.fixture
def notifier(fake: FakeFhir, app_client: tuple[httpx.AsyncClient, Any]) -> Notifier:
    return Notifier(fake, app_client[0], HOOK, SECRET)


def inbox(app_client: tuple[httpx.AsyncClient, Any]) -> FhirInbox:
    inboxes = app_client[1].state.fhir_inboxes
    return inboxes._made["ehr"]  # type: ignore[no-any-return]


def seed(fake: FakeFhir, *ids: str) -> None:
    fake.put(patient("p1"))
    fake.put(practitioner("d1"))
    fake.put(location("l1"))
    for aid in ids:
        fake.put(appointment(aid, fake.clock + timedelta(days=2), "p1", "d1", "l1"))


def move(fake: FakeFhir, aid: str, hours: float = 0, status: str | None = None) -> None:
    """The EHR changes an appointment five minutes later: moved by ``hours`` and/or to ``status``."""
    current = fake.get(f"Appointment/{aid}")
    fake.tick(minutes=5)
    start = datetime.fromisoformat(current["start"].replace("Z", "+00:00")) + timedelta(hours=hours)
    fake.put(appointment(aid, start, "p1", "d1", "l1", status=status or current["status"]))


def rows(store: Store) -> dict[str, Any]:
    with store.engine.connect() as connection:
        return {r.external_id: r for r in connection.execute(select(A))}


def events(store: Store) -> list[tuple[str, str]]:
    table = Event.__table__  # type: ignore[attr-defined]
    with store.engine.connect() as connection:
        found = connection.execute(select(table.c.kind, A.c.external_id).join(A, A.c.id == table.c.appointment_id)
                                   .order_by(table.c.id))
        return [(r.kind, r.external_id) for r in found]


def appointment_reads(fake: FakeFhir) -> list[str]:
    return [s.path for s in fake.seen("GET") if s.path.startswith("/fhir/Appointment/")]


# -- R4 rest-hook ------------------------------------------------------------------------------
async def test_rest_hook_with_the_resource_books_reschedules_cancels_and_deletes(
        fake: FakeFhir, notifier: Notifier, store: Store) -> None:
    seed(fake, "a1")
    answer = await notifier.put("a1")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"notification": "event-notification", "results": {"created": 1}, "poll": None}
    row = rows(store)["a1"]
    assert (row.status, row.timezone) == ("booked", "America/Chicago")
    assert appointment_reads(fake) == []  # the resource came with the notification
    assert {s.path for s in fake.seen("GET")} >= {"/fhir/Patient/p1", "/fhir/Practitioner/d1"}  # as a poll resolves

    start = row.start_utc
    move(fake, "a1", hours=3)
    assert (await notifier.put("a1")).json()["results"] == {"rescheduled": 1}
    assert rows(store)["a1"].start_utc == start + timedelta(hours=3)
    assert (await notifier.put("a1")).json()["results"] == {"unchanged": 1}  # a redelivery changes nothing

    move(fake, "a1", status="cancelled")
    assert (await notifier.put("a1")).json()["results"] == {"cancelled": 1}
    fake.delete("Appointment/a1")
    assert (await notifier.delete("a1")).json()["results"] == {"deleted": 1}
    assert rows(store)["a1"].deleted_at is not None
    assert events(store) == [("created", "a1"), ("rescheduled", "a1"), ("cancelled", "a1"), ("deleted", "a1")]


async def test_a_late_retry_of_a_put_after_the_delete_never_books_again(
        fake: FakeFhir, notifier: Notifier, store: Store) -> None:
    """Issue 29 obs 4: DELETE, then a retry of the earlier PUT (its body, its lastUpdated):
    the tombstone refuses it, as it refuses a PUT that a DELETE overtook. A PUT dated after
    the delete (the EHR re-created it) applies."""
    seed(fake, "a1", "a2")
    earlier = fake.get("Appointment/a1")
    assert (await notifier.put("a1")).json()["results"] == {"created": 1}
    fake.delete("Appointment/a1")
    assert (await notifier.delete("a1")).json()["results"] == {"deleted": 1}
    client = notifier.client
    retry = await client.put(f"{HOOK}/Appointment/a1", content=json.dumps(earlier),
                             headers={**notifier.headers, "Content-Type": "application/fhir+json"})
    assert retry.json()["results"] == {"unchanged": 1}
    assert rows(store)["a1"].deleted_at is not None

    overtaken = fake.get("Appointment/a2")  # its DELETE arrives first, then the PUT
    assert (await notifier.delete("a2")).json()["results"] == {"unknown": 1}
    late = await client.put(f"{HOOK}/Appointment/a2", content=json.dumps(overtaken),
                            headers={**notifier.headers, "Content-Type": "application/fhir+json"})
    assert late.json()["results"] == {"unchanged": 1} and "a2" not in rows(store)

    fake.tick(minutes=5)
    fake.put(appointment("a1", fake.clock + timedelta(days=3), "p1", "d1", "l1"))
    assert (await notifier.put("a1")).json()["results"] == {"updated": 1}
    assert rows(store)["a1"].deleted_at is None


async def test_an_empty_rest_hook_polls_the_connector_by_last_updated(
        fake: FakeFhir, notifier: Notifier, store: Store, app_client: Any) -> None:
    seed(fake, "a1")
    answer = await notifier.ping()
    assert answer.status_code == 200 and answer.json()["poll"]
    assert inbox(app_client).poller.settle(30)
    assert rows(store)["a1"].status == "booked"

    move(fake, "a1", status="cancelled")
    fake.tick(minutes=5)
    await notifier.ping()
    assert inbox(app_client).poller.settle(30)
    assert rows(store)["a1"].status == "cancelled"
    searches = fake.seen("GET", "/fhir/Appointment")
    assert "_lastUpdated" not in searches[0].query  # the first poll reads the window
    assert searches[-1].query["_lastUpdated"][0].startswith("gt")  # then only what changed, as the poll does
    state = subscription_state(store.engine, "ehr")
    assert state is not None and state["reconcile_at"] is None and state["reconciled_at"] is not None


# -- topic-based (Backport IG) ------------------------------------------------------------------
async def test_topic_notifications_id_only_full_resource_and_empty(
        fake: FakeFhir, notifier: Notifier, store: Store, app_client: Any) -> None:
    seed(fake, "a1", "a2", "a3")
    handshake = await notifier.notify("handshake")
    assert handshake.json() == {"notification": "handshake", "results": {}, "poll": None}

    id_only = await notifier.notify("id-only", "a1")  # event 1: the focus only; the appointment is read
    assert id_only.json()["results"] == {"created": 1}
    assert appointment_reads(fake) == ["/fhir/Appointment/a1"]

    move(fake, "a1", hours=1)
    candle = await notifier.notify("candle-id-only", "a1")  # event 2, fhir-candle's shape (valueString)
    assert candle.json()["results"] == {"rescheduled": 1}

    full = await notifier.notify("full-resource", "a2")  # event 3: the appointment travels in the Bundle
    assert full.json()["results"] == {"created": 1}
    assert "/fhir/Appointment/a2" not in appointment_reads(fake)

    move(fake, "a3", status="cancelled")
    empty = await notifier.notify("empty")  # event 4: no ids at all; the connector is polled
    assert empty.json()["poll"]
    assert inbox(app_client).poller.settle(30)
    assert rows(store)["a3"].status == "cancelled"

    move(fake, "a2", status="cancelled")
    assert (await notifier.notify("full-resource", "a2")).json()["results"] == {"cancelled": 1}
    fake.delete("Appointment/a1")
    deleted = await notifier.notify("id-only", "a1", deleted=True)
    assert deleted.json()["results"] == {"deleted": 1}
    state = subscription_state(store.engine, "ehr")
    assert state is not None
    assert (state["last_type"], state["events_seen"], state["status"]) == ("event-notification", 6, "active")
    assert state["subscription"] == "https://fhirserver.org/fhir/Subscription/123"


async def test_handshakes_and_heartbeats_of_r4_r4b_and_r5_are_recorded(
        notifier: Notifier, store: Store, fake: FakeFhir) -> None:
    for kind in ("r5-handshake", "r4b-handshake", "handshake"):
        answer = await notifier.notify(kind)
        assert answer.json() == {"notification": "handshake", "results": {}, "poll": None}, kind
    heartbeat = await notifier.notify("heartbeat")
    assert heartbeat.json() == {"notification": "heartbeat", "results": {}, "poll": None}
    state = subscription_state(store.engine, "ehr")
    assert state is not None
    assert (state["last_type"], state["events_seen"], state["notifications"]) == ("heartbeat", 0, 4)
    assert state["last_seen_at"] is not None and state["reconcile_at"] is None
    assert fake.seen() == []  # nothing to read for a handshake or a heartbeat


async def test_a_dropped_notification_is_caught_by_the_counter_gap(
        fake: FakeFhir, notifier: Notifier, store: Store, app_client: Any) -> None:
    seed(fake, "a1")
    await notifier.notify("handshake")
    await notifier.notify("id-only", "a1")  # event 1
    move(fake, "a1", hours=2)
    notifier.bundle("id-only", "a1")  # event 2 is lost on the way
    fake.tick(minutes=5)
    heartbeat = await notifier.notify("heartbeat")  # "2 events since the start": one never arrived
    assert heartbeat.json()["poll"] == "events 2..2 were counted by the server but never arrived"
    assert inbox(app_client).poller.settle(30)
    assert [kind for kind, _ in events(store)] == ["created", "rescheduled"]
    state = subscription_state(store.engine, "ehr")
    assert state is not None and state["reconcile_at"] is None and state["events_seen"] == 2


async def test_a_counter_that_goes_down_asks_for_a_reconcile(
        fake: FakeFhir, notifier: Notifier, store: Store, app_client: Any) -> None:
    seed(fake, "a1", "a2")
    for aid in ("a1", "a2"):
        await notifier.notify("id-only", aid)
    move(fake, "a2", status="cancelled")  # changed while the server restarted: never notified
    notifier.events = 0  # HAPI keeps the counter in memory
    restarted = await notifier.notify("heartbeat")
    assert "went down from 2 to 0" in restarted.json()["poll"]
    assert inbox(app_client).poller.settle(30)
    assert rows(store)["a2"].status == "cancelled"


async def test_a_dropped_rest_hook_is_caught_by_the_next_poll(
        fake: FakeFhir, notifier: Notifier, store: Store, settings: Settings) -> None:
    seed(fake, "a1")
    await notifier.put("a1")
    sync_once(settings, store, only=["ehr"])  # the regular poll, beside the subscription
    move(fake, "a1", hours=1)  # the PUT for this change never arrives
    fake.tick(minutes=5)
    report = sync_once(settings, store, only=["ehr"])
    assert report.connectors["ehr"].counts.rescheduled == 1
    assert [kind for kind, _ in events(store)] == ["created", "rescheduled"]


# -- refused and bad input ----------------------------------------------------------------------
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-secret-0123456789", f"Basic {SECRET}",
                                           f"Bearer {SECRET}x", "Bearer "])
async def test_without_the_subscription_bearer_nothing_is_read_or_stored(
        fake: FakeFhir, app_client: Any, store: Store, authorization: str | None) -> None:
    seed(fake, "a1")
    client = app_client[0]
    headers = {"Content-Type": "application/fhir+json"} | ({"Authorization": authorization} if authorization else {})
    for method, path, body in (("PUT", f"{HOOK}/Appointment/a1", json.dumps(fake.get("Appointment/a1"))),
                               ("POST", HOOK, "{not json"), ("POST", HOOK, ""),
                               ("DELETE", f"{HOOK}/Appointment/a1", ""), ("POST", "/hooks/fhir/nobody", "")):
        answer = await client.request(method, path, content=body, headers=headers)
        assert answer.status_code == 401, (method, path, answer.text)
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert rows(store) == {} and fake.seen() == []
    assert subscription_state(store.engine, "ehr") is None


async def test_a_body_that_is_no_notification_is_refused_naming_the_element(
        notifier: Notifier, store: Store, fake: FakeFhir) -> None:
    seed(fake, "a1")
    cases = [
        ({"resourceType": "Patient", "id": "x"}, "the body is a 'Patient', not a notification Bundle"),
        ({"resourceType": "Bundle", "type": "searchset", "entry": []}, "Bundle.type is 'searchset'"),
        ({"resourceType": "Bundle", "type": "history", "entry": [{"resource": {"resourceType": "Encounter"}}]},
         "Bundle.entry[0] is a 'Encounter'"),
        (notifier.bundle("heartbeat", events=-1), "events-since-subscription-start is negative"),
    ]
    for body, reason in cases:
        answer = await notifier.send(body)
        assert answer.status_code == 400 and reason in answer.json()["detail"], answer.text
    xml = await notifier.send({}, headers={"Content-Type": "application/fhir+xml"})
    assert xml.status_code == 415
    wrong_id = await notifier.client.put(f"{HOOK}/Appointment/a2", content=json.dumps(fake.get("Appointment/a1")),
                                         headers={**notifier.headers, "Content-Type": "application/fhir+json"})
    assert wrong_id.status_code == 400 and "differs from the id in the URL" in wrong_id.json()["detail"]
    assert rows(store) == {}


async def test_an_appointment_that_does_not_map_is_quarantined_and_answered_200(
        fake: FakeFhir, notifier: Notifier, store: Store) -> None:
    seed(fake)
    fake.put(appointment("a9", None, "p1", "d1"))  # no start: the mapping refuses it
    answer = await notifier.put("a9")
    assert answer.status_code == 200 and answer.json()["results"] == {"quarantined": 1}
    table = Quarantine.__table__  # type: ignore[attr-defined]
    with store.engine.connect() as connection:
        [item] = list(connection.execute(select(table)))
    assert item.record_id == "a9" and item.resolution is None
    assert rows(store) == {}


async def test_an_oversized_notification_is_413_and_stores_nothing(notifier: Notifier, store: Store) -> None:
    answer = await notifier.client.post(HOOK, content=b"{" + b" " * (70 * 1024) + b"}",
                                        headers={**notifier.headers, "Content-Type": "application/fhir+json"})
    assert answer.status_code == 413
    assert subscription_state(store.engine, "ehr") is None


# -- the parser and the gap rule, on the published examples --------------------------------------
def test_the_published_examples_read_as_their_kinds() -> None:
    id_only = read_notification(example("id-only"))
    assert (id_only.type, id_only.content, id_only.events_since_start, id_only.event_numbers) == (
        "event-notification", "id-only", 1, (1,))
    assert id_only.changes == () and id_only.other_resources == 2  # an Encounter (focus and entry), no Appointment
    full = read_notification(example("full-resource"))
    assert full.content == "full-resource" and full.resources[0]["resourceType"] == "Encounter"
    assert read_notification(example("empty")).content == "empty"
    candle = read_notification(example("candle-id-only"))
    assert candle.subscription == "https://subscriptions.argo.run/fhir/r4/Subscription/383c610b-8a8b-4173-b363-7b811509aadd"
    for kind in ("handshake", "r4b-handshake", "r5-handshake"):
        assert read_notification(example(kind)).type == "handshake"
    assert read_notification(example("heartbeat")).events_since_start == 2
    with pytest.raises(NotificationError):
        read_notification([])
    assert resource_key("https://x.org/fhir/Appointment/7/_history/3") == ("Appointment", "7")
    assert resource_key("urn:uuid:2d5afc69") is None


@pytest.mark.parametrize(("last", "heard", "gap", "count"), [
    (None, Heard("handshake", events_since_start=0), None, 0),
    (None, Heard("event-notification", events_since_start=1, event_numbers=(1,)), None, 1),
    (None, Heard("event-notification", events_since_start=5, event_numbers=(5,)), "at event 5", 5),
    (3, Heard("event-notification", events_since_start=4, event_numbers=(4,)), None, 4),
    (3, Heard("event-notification", events_since_start=3, event_numbers=(3,)), None, 3),  # a redelivery
    (3, Heard("event-notification", events_since_start=6, event_numbers=(6,)), "events 4..5 never arrived", 6),
    (3, Heard("heartbeat", events_since_start=3), None, 3),
    (3, Heard("heartbeat", events_since_start=4), "events 4..4 were counted", 4),
    (3, Heard("heartbeat", events_since_start=1), "went down from 3 to 1", 1),
    (3, Heard("event-notification"), None, None),  # an R4 rest-hook: no numbers
])
def test_the_counter_gap_rule(last: int | None, heard: Heard, gap: str | None, count: int | None) -> None:
    reason, seen = counter_gap(last, heard)
    assert (reason is None) == (gap is None) and (gap is None or gap in str(reason))
    assert seen == count


# -- `clinicsync fhir subscribe` ----------------------------------------------------------------
def test_subscribe_creates_an_r4_rest_hook_with_the_bearer_header(
        write_settings: Callable[..., Path], fake: FakeFhir, cli: Any) -> None:
    config = write_settings(connectors=f"""
- name: ehr
  kind: fhir
  base_url: {fake.base_url}
  subscription:
    secret_file: {write_secret(config_dir(write_settings))}
    criteria: Appointment?status=booked,cancelled
""", extra="server:\n  public_url: https://clinicsync.example.org\n")
    _, out, err = cli(config)("fhir", "subscribe", "ehr")
    answer = json.loads(out)
    [sent] = fake.subscriptions
    assert sent["criteria"] == "Appointment?status=booked,cancelled"
    assert sent["channel"] == {"type": "rest-hook", "endpoint": "https://clinicsync.example.org/hooks/fhir/ehr",
                               "header": [f"Authorization: Bearer {SECRET}"], "payload": "application/fhir+json"}
    assert answer["id"] == sent["id"] and answer["kind"] == "rest-hook"
    assert SECRET not in out + err


def test_subscribe_creates_a_backport_topic_subscription_shaped_like_the_igs(
        write_settings: Callable[..., Path], fake: FakeFhir, cli: Any) -> None:
    config = write_settings(connectors=f"""
- name: ehr
  kind: fhir
  base_url: {fake.base_url}
  subscription:
    secret: {SECRET}
    endpoint: https://hooks.example.org/fhir/ehr
    topic: http://example.org/topics/appointment-change
    payload: id-only
    filters: ["Appointment?location=Location/l1"]
    heartbeat_seconds: 3600
""")
    cli(config)("fhir", "subscribe", "ehr")
    [sent] = fake.subscriptions
    published = json.loads((FIXTURES / "inferno_r4_Subscription_id-only.json").read_text())
    assert sent["meta"] == published["meta"]
    assert sent["criteria"] == "http://example.org/topics/appointment-change"
    assert sent["_criteria"]["extension"][0]["url"] == published["_criteria"]["extension"][0]["url"]
    assert sent["_criteria"]["extension"][0]["valueString"] == "Appointment?location=Location/l1"
    assert sent["channel"]["_payload"] == published["channel"]["_payload"]  # id-only, the IG's extension
    assert sent["channel"]["header"] == [f"Authorization: Bearer {SECRET}"]
    assert sent["channel"]["extension"][0]["url"].endswith("backport-heartbeat-period")


def test_subscribe_says_what_is_missing(write_settings: Callable[..., Path], fake: FakeFhir, cli: Any) -> None:
    config = write_settings(connectors=f"""
- name: ehr
  kind: fhir
  base_url: {fake.base_url}
  subscription:
    secret: {SECRET}
""")
    _, _, err = cli(config)("fhir", "subscribe", "ehr", expect=2)
    assert "set subscription.endpoint or server.public_url" in err
    _, _, err = cli(config)("fhir", "subscribe", "other", expect=2)
    assert "no fhir connector named 'other'" in err
    assert fake.subscriptions == []


def test_an_id_only_rest_hook_or_a_short_secret_is_a_config_error(
        write_settings: Callable[..., Path], fake: FakeFhir) -> None:
    for block, reason in (("secret: " + SECRET + "\n    payload: id-only", "id-only needs a topic"),
                          ("secret: short", "subscription.secret is too short")):
        config = write_settings(connectors=f"""
- name: ehr
  kind: fhir
  base_url: {fake.base_url}
  subscription:
    {block}
""")
        with pytest.raises(ConfigError) as raised:
            load_settings(config)
        assert reason in raised.value.render()


def config_dir(write_settings: Callable[..., Path]) -> Path:
    return write_settings().parent


def write_secret(folder: Path) -> Path:
    path = folder / "fhir-hook-secret"
    path.write_text(SECRET + "\n")
    return path


async def test_notifications_are_rate_limited_per_connector(
        write_settings: Callable[..., Path], fake: FakeFhir, store: Store) -> None:
    settings = load_settings(write_settings(connectors=f"""
- name: ehr
  kind: fhir
  base_url: {fake.base_url}
  subscription: {{secret: {SECRET}, rate_per_second: 0.01, burst: 2}}
"""))
    seed(fake, "a1")
    app = create_app(settings, store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://internal") as client:
        notifier = Notifier(fake, client, HOOK, SECRET)
        answers = [await notifier.notify("handshake") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert int(answers[-1].headers["Retry-After"]) >= 1
        assert (await notifier.put("a1")).status_code == 429
    app.state.fhir_inboxes.close()
    assert rows(store) == {}
    state = subscription_state(store.engine, "ehr")
    assert state is not None and state["notifications"] == 2


# -- Medplum's rest-hook: a POST of the bare resource -------------------------------------------
def medplum_delivery(interaction: str) -> dict[str, Any]:
    """A delivery as Medplum's server sends it (tests/fixtures/medplum/rest-hook-deliveries.json)."""
    deliveries = json.loads((FIXTURES.parent / "medplum" / "rest-hook-deliveries.json").read_text())
    found: dict[str, Any] = next(d for d in deliveries if d["interaction"] == interaction)
    return found


async def medplum_post(notifier: Notifier, body: dict[str, Any], headers: dict[str, str],
                       sign: str | None = SECRET) -> httpx.Response:
    """POST ``body`` serialised compactly, as Medplum's ``stringify`` does, with the
    subscription's ``channel.header`` and, when ``sign``, Medplum's X-Signature over those bytes."""
    raw = json.dumps(body, separators=(",", ":")).encode()
    signature = {"X-Signature": hmac.new(sign.encode(), raw, hashlib.sha256).hexdigest()} if sign else {}
    return await notifier.client.post(HOOK, content=raw, headers={**headers, **notifier.headers, **signature})


async def test_medplum_posts_the_bare_appointment_and_a_delete_by_header(
        fake: FakeFhir, notifier: Notifier, store: Store) -> None:
    fake.put(patient("123"))
    fake.put(practitioner("456"))
    update = medplum_delivery("update")
    def at(hours: float) -> dict[str, str]:
        start = fake.clock + timedelta(days=2, hours=hours)
        return {"start": start.isoformat().replace("+00:00", "Z"),
                "end": (start + timedelta(minutes=30)).isoformat().replace("+00:00", "Z")}

    body = update["body"] | at(0)
    answer = await medplum_post(notifier, body, update["headers"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"] == {"created": 1}
    row = rows(store)["test-appointment-1"]
    assert row.status == "booked" and row.start_utc == fake.clock + timedelta(days=2)
    assert appointment_reads(fake) == []  # the resource came with the POST

    moved = body | at(3)
    assert (await medplum_post(notifier, moved, update["headers"])).json()["results"] == {"rescheduled": 1}
    assert (await medplum_post(notifier, moved, update["headers"])).json()["results"] == {"unchanged": 1}

    delete = medplum_delivery("delete")
    gone = await medplum_post(notifier, delete["body"], delete["headers"], sign=None)
    assert gone.status_code == 200 and gone.json()["results"] == {"deleted": 1}, gone.text
    assert rows(store)["test-appointment-1"].deleted_at is not None
    assert [kind for kind, _ in events(store)] == ["created", "rescheduled", "deleted"]


async def test_medplum_deliveries_are_authenticated_before_reading_and_a_bad_signature_stores_nothing(
        fake: FakeFhir, notifier: Notifier, app_client: Any, store: Store) -> None:
    fake.put(patient("123"))
    fake.put(practitioner("456"))
    update = medplum_delivery("update")
    raw = json.dumps(update["body"], separators=(",", ":"))
    unauthenticated = await app_client[0].post(HOOK, content=raw, headers=update["headers"])
    assert unauthenticated.status_code == 401
    wrong = await medplum_post(notifier, update["body"], update["headers"], sign="another-secret-0123456789")
    assert wrong.status_code == 401 and "X-Signature" in wrong.json()["detail"]
    unsigned_delete = medplum_delivery("delete")
    no_type = await medplum_post(notifier, {}, unsigned_delete["headers"] | {"X-Medplum-Deleted-Resource": "x"},
                                 sign=None)
    assert no_type.status_code == 400 and "X-Medplum-Deleted-Resource" in no_type.json()["detail"]
    other = await medplum_post(notifier, {}, unsigned_delete["headers"]
                               | {"X-Medplum-Deleted-Resource": "Patient/123"}, sign=None)
    assert other.status_code == 200 and other.json()["results"] == {"ignored": 1}
    no_id = await medplum_post(notifier, {"resourceType": "Appointment", "status": "booked"}, update["headers"])
    assert no_id.status_code == 400 and "no id" in no_id.json()["detail"]
    assert rows(store) == {}


# -- over months: a Subscription that stops, late and repeated notifications, a rotated secret ---
def with_status(bundle: dict[str, Any], status: str) -> dict[str, Any]:
    """The notification reporting the Subscription's ``status`` (R4 backport Parameters)."""
    for parameter in bundle["entry"][0]["resource"]["parameter"]:
        if parameter["name"] == "status":
            parameter["valueCode"] = status
    return bundle


def stopped(store: Store, settings: Settings, now: datetime | None = None) -> list[str]:
    return [f"{s.subject}: {s.detail}" for s in find_stalls(store, settings, now) if s.kind == "subscription_stopped"]


async def metric(app_client: Any, name: str, **labels: str) -> float | None:
    text = (await app_client[0].get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


@pytest.mark.parametrize("status", ["error", "off"])
async def test_a_subscription_the_server_reports_error_or_off_is_a_stall_in_status_and_metrics(
        notifier: Notifier, store: Store, settings: Settings, app_client: Any, status: str) -> None:
    await notifier.notify("handshake")
    assert stopped(store, settings) == []
    assert await metric(app_client, "clinicsync_fhir_subscription_stopped", connector="ehr") == 0
    answer = await notifier.send(with_status(notifier.bundle("heartbeat"), status))
    assert answer.status_code == 200
    [stall] = stopped(store, settings)
    assert stall.startswith(f"ehr: the FHIR server reports its Subscription '{status}'")
    assert "clinicsync fhir subscribe ehr" in stall
    assert await metric(app_client, "clinicsync_fhir_subscription_stopped", connector="ehr") == 1
    await notifier.send(with_status(notifier.bundle("heartbeat"), "active"))  # reactivated: the stall is gone
    assert stopped(store, settings) == []


@pytest.fixture
def topic_settings(write_settings: Callable[..., Path], fake: FakeFhir) -> Settings:
    return load_settings(write_settings(connectors=f"""
- name: ehr
  kind: fhir
  base_url: {fake.base_url}
  subscription:
    secret: {SECRET}
    topic: http://example.org/topics/appointment-change
    payload: id-only
    heartbeat_seconds: 3600
"""))


async def test_heartbeats_that_stop_make_a_stall_after_the_period_and_the_margin(
        topic_settings: Settings, store: Store, fake: FakeFhir) -> None:
    app = create_app(topic_settings, store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://internal") as client:
        notifier = Notifier(fake, client, HOOK, SECRET)
        await notifier.notify("handshake")
        await notifier.notify("heartbeat")
        heard = utcnow()
        margin = topic_settings.service.stall()
        assert stopped(store, topic_settings, heard + timedelta(hours=1) + margin - timedelta(minutes=1)) == []
        [stall] = stopped(store, topic_settings, heard + timedelta(hours=1) + margin + timedelta(minutes=1))
        assert "no notification or heartbeat since" in stall and "heartbeat every 3600 s" in stall
        assert 'result="unauthorized"' in stall  # where a rotated secret shows
        # The secret was rotated here (settings) but the server still sends the one it was given:
        # its notifications are refused, counted, and the feed shows as stopped once a heartbeat is due.
        stale = Notifier(fake, client, HOOK, "the-old-secret-0123456789abcdef")
        refused = await stale.notify("heartbeat")
        assert refused.status_code == 401
        assert await metric((client, app), "clinicsync_webhook_requests_total", endpoint="fhir:ehr",
                            result="unauthorized") == 1
        assert stopped(store, topic_settings, heard + timedelta(hours=2) + margin) != []
    app.state.fhir_inboxes.close()


def test_the_alert_rules_watch_a_stopped_subscription_and_refused_notifications() -> None:
    rules = yaml.safe_load((Path(__file__).resolve().parents[2] / "docs/deploy/prometheus-rules.yaml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    assert any("clinicsync_fhir_subscription_stopped" in e for e in exprs)
    assert any('result="unauthorized"' in e and "fhir:" in e for e in exprs)


def test_subscribe_again_updates_the_one_subscription_reactivates_it_and_recreates_a_deleted_one(
        write_settings: Callable[..., Path], fake: FakeFhir, cli: Any, store: Store) -> None:
    def config(secret: str) -> Path:
        return write_settings(connectors=f"""
- name: ehr
  kind: fhir
  base_url: {fake.base_url}
  subscription:
    secret: {secret}
""", extra="server:\n  public_url: https://clinicsync.example.org\n")

    first = json.loads(cli(config(SECRET))("fhir", "subscribe", "ehr")[1])
    [created] = fake.subscriptions
    assert first["action"] == "created" and first["id"] == created["id"]
    state = subscription_state(store.engine, "ehr")
    assert state is not None and state["subscription"] == f"Subscription/{created['id']}"
    # Months later: the server set it `error` after our outage, and the secret was rotated.
    fake.put({**fake.get(f"Subscription/{created['id']}"), "status": "error"})
    rotated = "rotated-secret-0123456789abcdef"
    again = json.loads(cli(config(rotated))("fhir", "subscribe", "ehr")[1])
    assert again["action"] == "updated" and again["id"] == created["id"]
    assert len(fake.subscriptions) == 1 and len(fake.seen("POST", "/fhir/Subscription")) == 1  # still one
    current = fake.get(f"Subscription/{created['id']}")
    assert current["status"] == "requested" and current["channel"]["header"] == [f"Authorization: Bearer {rotated}"]
    # The server deleted it (its `end` passed): created again, once.
    fake.delete(f"Subscription/{created['id']}")
    third = json.loads(cli(config(rotated))("fhir", "subscribe", "ehr")[1])
    assert third["action"] == "created" and third["id"] != created["id"]
    assert len(fake.subscriptions) == 2


async def test_an_older_version_delivered_after_a_newer_one_never_overwrites_it(
        fake: FakeFhir, notifier: Notifier, store: Store, app_client: Any) -> None:
    seed(fake, "a1")
    old = notifier.bundle("full-resource", "a1")  # event 1, version 1
    move(fake, "a1", hours=2)
    new = notifier.bundle("full-resource", "a1")  # event 2, version 2
    assert (await notifier.send(new)).json()["results"] == {"created": 1}
    moved = rows(store)["a1"].start_utc
    late = await notifier.send(old)  # the server's retry of event 1 arrives after event 2
    assert late.json()["results"] == {"unchanged": 1}
    assert rows(store)["a1"].start_utc == moved
    again = await notifier.send(new)  # the same event twice
    assert again.json()["results"] == {"unchanged": 1}
    # R4 rest-hook: an older PUT after a newer one
    version_one = {**fake.get("Appointment/a1"), "start": old["entry"][1]["resource"]["start"],
                   "end": old["entry"][1]["resource"]["end"], "meta": old["entry"][1]["resource"]["meta"]}
    put = await notifier.client.put(f"{HOOK}/Appointment/a1", content=json.dumps(version_one),
                                    headers={**notifier.headers, "Content-Type": "application/fhir+json"})
    assert put.json()["results"] == {"unchanged": 1}
    assert rows(store)["a1"].start_utc == moved
    assert [kind for kind, _ in events(store)] == ["created"]


async def test_a_handshake_or_heartbeat_writes_no_appointment_and_no_event(
        fake: FakeFhir, notifier: Notifier, store: Store) -> None:
    seed(fake, "a1")
    for kind in ("handshake", "heartbeat", "r4b-handshake", "r5-handshake"):
        assert (await notifier.notify(kind)).json()["results"] == {}
    assert rows(store) == {} and events(store) == []


def subscribed_rest_hook(write_settings: Callable[..., Path], fake: FakeFhir, cli: Any) -> tuple[Path, Settings, str]:
    """An R4 rest-hook source `ehr` with one appointment, subscribed: (settings path, settings, Subscription id)."""
    path = write_settings(connectors=f"""
- name: ehr
  kind: fhir
  base_url: {fake.base_url}
  subscription:
    secret: {SECRET}
""", extra="server:\n  public_url: https://clinicsync.example.org\n")
    seed(fake, "a1")
    return path, load_settings(path), json.loads(cli(path)("fhir", "subscribe", "ehr")[1])["id"]


def test_the_poll_reads_the_rest_hook_subscription_and_a_deleted_errored_or_ended_one_is_a_stall(
        write_settings: Callable[..., Path], fake: FakeFhir, cli: Any, store: Store) -> None:
    """An R4 rest-hook has no heartbeats: when the server deletes it, ends it or sets it error,
    no notification says so. The regular poll reads it (GET Subscription/<id>) and records what
    the server says."""
    path, settings, sid = subscribed_rest_hook(write_settings, fake, cli)
    fake.put({**fake.get(f"Subscription/{sid}"), "status": "active"})  # the server activated it
    assert sync_once(settings, store, only=["ehr"]).connectors["ehr"].error is None
    assert fake.seen("GET", f"/fhir/Subscription/{sid}") != []
    assert stopped(store, settings) == []
    assert (subscription_state(store.engine, "ehr") or {})["status"] == "active"

    fake.put({**fake.get(f"Subscription/{sid}"), "status": "error"})  # it gave up during our outage
    sync_once(settings, store, only=["ehr"])
    [stall] = stopped(store, settings)
    assert "reports its Subscription 'error'" in stall

    fake.put({**fake.get(f"Subscription/{sid}"), "status": "active", "end": "2020-01-01T00:00:00Z"})
    sync_once(settings, store, only=["ehr"])
    assert "reports its Subscription 'off'" in stopped(store, settings)[0]  # its end passed

    fake.delete(f"Subscription/{sid}")
    report = sync_once(settings, store, only=["ehr"])
    assert report.connectors["ehr"].error is None  # the poll itself stands
    assert "no longer has it" in stopped(store, settings)[0]

    cli(path)("fhir", "subscribe", "ehr")  # created again: the watch starts afresh
    assert stopped(store, settings) == []


async def test_a_renamed_fhir_source_is_answered_503_until_source_rename(
        fake: FakeFhir, notifier: Notifier, store: Store, write_settings: Callable[..., Path], cli: Any) -> None:
    """The FHIR connector renamed `ehr` -> `emr` in the settings (the
    subscription's endpoint moved with it). On main the notified reschedule was stored under
    `emr` as a new visit; now 503 with Retry-After and nothing stored, and the server's retry
    after `source rename` is the reschedule of the moved visit."""
    seed(fake, "a1")
    assert (await notifier.put("a1")).json()["results"] == {"created": 1}
    path = write_settings(connectors=fhir_source("emr", fake))
    app = create_app(load_settings(path), store)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://internal") as http:
            renamed = Notifier(fake, http, "/hooks/fhir/emr", SECRET)
            move(fake, "a1", hours=3)
            refused = await renamed.put("a1")
            assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1  # main: 200 created
            assert [r.connector for r in rows(store).values()] == ["ehr"] and events(store) == [("created", "a1")]
            assert await metric((http, app), "clinicsync_webhook_requests_total", endpoint="fhir:emr",
                                result="refused_orphan") == 1

            cli(path)("source", "rename", "ehr", "emr")
            assert (await renamed.put("a1")).json()["results"] == {"rescheduled": 1}
    finally:
        app.state.fhir_inboxes.close()
    assert [r.connector for r in rows(store).values()] == ["emr"]
    assert events(store) == [("created", "a1"), ("rescheduled", "a1")]


def test_a_subscription_the_poll_cannot_read_is_one_warning_not_one_per_poll(
        write_settings: Callable[..., Path], fake: FakeFhir, cli: Any, store: Store) -> None:
    """The server refuses `GET Subscription/<id>` (a scope the client
    lost). On main each poll, every few minutes under cron, logged `fhir.subscription.unread`
    at warning; now once, the polls after it at debug (sync/runs/standing.py), and a `.resolved`
    line once it is read again."""
    from structlog.testing import capture_logs

    _path, settings, sid = subscribed_rest_hook(write_settings, fake, cli)
    fake.fail(lambda seen: seen.method == "GET" and seen.path == f"/fhir/Subscription/{sid}", 403, times=6)
    with capture_logs() as logs:
        for _ in range(6):
            assert sync_once(settings, store, only=["ehr"]).connectors["ehr"].error is None
        sync_once(settings, store, only=["ehr"])
    unread = [line["log_level"] for line in logs if line["event"] == "fhir.subscription.unread"]
    assert unread == ["warning"] + ["debug"] * 5  # main: six warnings
    assert [line["connector"] for line in logs if line["event"] == "fhir.subscription.unread.resolved"] == ["ehr"]
