"""Edits of the notifier and reminder settings months after go-live: what they do to
messages already planned, waiting for a retry, or handed over. Never twice, never lost, and
nothing stuck where nobody sees it. On SQLite and PostgreSQL, with the scripted notifier plugin
(and a real SMTP notifier that is never reached where a channel must have no notifier)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select

from clinicsync.sync.checks.stalls import find_stalls
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.runs.setaside import open_items, request_retry
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model.reminders import DELIVERIES, REMINDERS
from clinicsync.sync.store.store import Store
from tests.conftest import SettingsFactory
from tests.responses.test_twilio_hooks import PUBLIC, TWILIO, signed
from tests.sync.reminders.conftest import appointment, put, states
from tests.sync.reminders.fakes import read_log

R = REMINDERS
BOOKED_AT = datetime(2026, 6, 1, 16, tzinfo=UTC)
START = datetime(2026, 6, 12, 14, tzinfo=UTC)  # 10:00 in New York
DAY_BEFORE = START - timedelta(hours=23)  # the 1d reminder is due and in time
REMINDERS_SECTION = """
reminders:
  quiet_hours: null
  agenda: {enabled: false}
  offsets: [1d]
  channels: [sms, email]
"""
# An SMTP notifier nothing in these tests reaches: the patients it would write to have no email.
SMTP_ONLY = "  - {name: mails, kind: smtp, host: 127.0.0.1, port: 1, security: none, sender: clinic@example.org}\n"


def settings_with(write_settings: SettingsFactory, tmp_path: Path, names: tuple[str, ...] = ("texts", "mails"),
                  reminders: str = "", outcomes: str = "{}", notifiers: str = "") -> Settings:
    """Scripted notifiers called ``names`` (each logs to <name>.jsonl) and the reminders section."""
    entries = "".join(f"  - {{name: {name}, kind: scripted, log: '{tmp_path / (name + '.jsonl')}', "
                      f"outcomes: {outcomes}, rate_per_second: 1000}}\n" for name in names)
    merged = {**yaml.safe_load(REMINDERS_SECTION)["reminders"], **(yaml.safe_load(reminders) or {})}
    section = yaml.safe_dump({"reminders": merged})
    return load_settings(write_settings(extra="notifiers:\n" + entries + notifiers + section))


@asynccontextmanager
async def client_for(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://internal") as client:
        yield client


def reminders(store: Store) -> dict[str, Any]:
    with store.engine.connect() as connection:
        return {r.key: r for r in connection.execute(select(R).order_by(R.c.id))}


def run(settings: Settings, store: Store, at: datetime, **kwargs: Any) -> dict[str, int]:
    return Dispatcher(settings, store, at, **kwargs).run().as_dict()


# -- a template edited with a typo -------------------------------------------------------------
def typo_templates(tmp_path: Path, text: str = "Hi {{ frist_name }}, see you {{ date }}.") -> None:
    folder = tmp_path / "tpl" / "en"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "reminder.sms.txt").write_text(text, encoding="utf-8")


def test_a_template_that_does_not_render_sets_its_messages_aside_and_a_retry_after_the_fix_sends_them(
        store: Store, write_settings: SettingsFactory, tmp_path: Path, scripted: Path) -> None:
    """A placeholder typo in the clinic's SMS reminder: each message that had no other way to
    go is set aside (a stall, the set-aside list) instead of failing for good one by one, and
    `set-aside retry` after the fix sends it once; a patient with an email gets the email; the
    other kinds (the confirmations) are not held up."""
    typo_templates(tmp_path)
    settings = settings_with(write_settings, tmp_path, names=("texts",), reminders="templates: tpl")
    put(store, appointment("A1", START, patient="P1", email=None),
        appointment("A2", START, patient="P2", phone="+12125550102"))
    plan(settings, store, BOOKED_AT)
    assert run(settings, store, BOOKED_AT)["sent"] == 2  # confirmations: their template is fine
    assert run(settings, store, DAY_BEFORE) == {"sent": 1, "failed": 1, "skipped": 0, "unknown": 0}
    rows = reminders(store)
    alone, other = rows["a1:patient:reminder:1d:v1"], rows["a2:patient:reminder:1d:v1"]
    assert (other.status, other.channel) == ("sent", "email")  # it had another way to go
    assert alone.status == "failed" and alone.reason.startswith("set aside: ")
    assert "en/reminder.sms.txt" in alone.reason and "frist_name" in alone.reason
    with store.engine.connect() as connection:
        [item] = open_items(connection)
    assert (item["stage"], item["appointment"]) == ("dispatch", "c1:A1")
    assert any(s.kind == "set_aside" and s.subject == "dispatch" for s in find_stalls(store, settings, DAY_BEFORE))
    # The clinic fixes the template and retries the set-aside items: the reminder goes, once.
    typo_templates(tmp_path, "Hi {{ first_name }}, see you {{ date }}.")
    assert request_retry(store.engine, "dispatch") == 1
    later = DAY_BEFORE + timedelta(minutes=30)
    assert run(settings, store, later)["sent"] == 1
    assert run(settings, store, later)["sent"] == 0
    assert reminders(store)["a1:patient:reminder:1d:v1"].status == "sent"
    texts = [line["body"] for line in read_log(tmp_path / "texts.jsonl")
             if ":reminder:" in line["key"] and line["channel"] == "sms"]
    assert texts == ["Hi Ana, see you Friday, June 12, 2026."]
    with store.engine.connect() as connection:
        assert open_items(connection) == []


# -- a channel left without a notifier ---------------------------------------------------------
def test_a_channel_left_without_a_notifier_is_named_as_the_reason(
        store: Store, write_settings: SettingsFactory, tmp_path: Path, scripted: Path) -> None:
    """Twilio removed and nothing sends SMS any more: a patient reachable only by SMS is not
    reported as having no address or no consent (that hid the settings change)."""
    settings = settings_with(write_settings, tmp_path, names=("texts",))
    put(store, appointment("A1", START, email=None))
    plan(settings, store, BOOKED_AT)
    assert run(settings, store, BOOKED_AT)["sent"] == 1
    email_only = load_settings(write_settings(extra="notifiers:\n" + SMTP_ONLY + REMINDERS_SECTION))
    assert run(email_only, store, DAY_BEFORE) == {"sent": 0, "failed": 0, "skipped": 1, "unknown": 0}
    reason = reminders(store)["a1:patient:reminder:1d:v1"].reason
    assert reason == "no reachable channel: no notifier sends sms (notifiers:, reminders.routes)"


# -- kinds switched off with messages of them pending ------------------------------------------
def test_an_agenda_already_planned_is_not_sent_once_agendas_are_switched_off(
        store: Store, write_settings: SettingsFactory, tmp_path: Path, scripted: Path) -> None:
    on = settings_with(write_settings, tmp_path, reminders="agenda: {enabled: true, at: '07:00'}\nconfirmation: false")
    today = datetime(2026, 6, 10, 10, tzinfo=UTC)  # 06:00 in New York: tomorrow's agenda is planned
    put(store, appointment("A1", datetime(2026, 6, 11, 18, tzinfo=UTC)))
    plan(on, store, today)
    assert reminders(store)["agenda:c1:D1:2026-06-11"].status == "pending"
    off = settings_with(write_settings, tmp_path, reminders="agenda: {enabled: false}\nconfirmation: false")
    run(off, store, datetime(2026, 6, 11, 11, 5, tzinfo=UTC))
    assert states(store)["agenda:c1:D1:2026-06-11"] == ("cancelled", "settings changed")
    assert read_log(tmp_path / "mails.jsonl") == []


def test_a_follow_up_already_planned_is_not_sent_once_follow_ups_are_switched_off(
        store: Store, write_settings: SettingsFactory, tmp_path: Path, scripted: Path) -> None:
    on = settings_with(write_settings, tmp_path,
                       reminders="confirmation: false\nnotices: {followup: {enabled: true, after: 2h}}")
    put(store, appointment("A1", START))
    plan(on, store, BOOKED_AT)
    end = START + timedelta(minutes=30)
    put(store, appointment("A1", START, status="fulfilled"))
    plan(on, store, end)
    assert states(store)["a1:patient:followup:v0"] == ("pending", None)
    off = settings_with(write_settings, tmp_path, reminders="confirmation: false")
    run(off, store, end + timedelta(hours=2))
    assert states(store)["a1:patient:followup:v0"] == ("cancelled", "settings changed")
    assert [line for line in read_log(tmp_path / "texts.jsonl") if ":followup:" in line["key"]] == []


def test_a_confirmed_notice_already_planned_is_not_sent_once_they_are_switched_off(
        store: Store, write_settings: SettingsFactory, tmp_path: Path, scripted: Path) -> None:
    on = settings_with(write_settings, tmp_path, reminders="offsets: []\nconfirmation: false")
    put(store, appointment("A1", START, status="proposed"))
    plan(on, store, BOOKED_AT)
    put(store, appointment("A1", START))  # the clinic confirms it: a `confirmed` notice is planned
    plan(on, store, BOOKED_AT + timedelta(minutes=1))
    [key] = [k for k in states(store) if ":confirmed:" in k]
    off = settings_with(write_settings, tmp_path, reminders="offsets: []\nconfirmation: false\n"
                                                            "notices: {confirmed: false}")
    run(off, store, BOOKED_AT + timedelta(minutes=2))
    assert states(store)[key] == ("cancelled", "settings changed")
    assert read_log(tmp_path / "texts.jsonl") == []


# -- a notifier renamed or replaced with messages in every state -------------------------------
def test_replacing_the_sms_notifier_sends_waiting_messages_once_through_the_new_one_and_never_resends_unknown(
        store: Store, write_settings: SettingsFactory, tmp_path: Path, scripted: Path) -> None:
    """Pins main's behaviour: a message waiting for a retry (never taken) goes through the new
    notifier, once; an `unknown` one (maybe taken by the old provider) stays `unknown`, shown, and
    is never sent through the new one unless asked; a `sent` one is left alone."""
    old = settings_with(write_settings, tmp_path, names=("twilio", "mails"), reminders="routes: {sms: twilio}",
                        outcomes='{"+12125550102": retryable, "+12125550103": crash}')
    put(store, appointment("A1", START, email=None), appointment("A2", START, patient="P2", phone="+12125550102",
                                                                  email=None),
        appointment("A3", START, patient="P3", phone="+12125550103", email=None))
    plan(old, store, BOOKED_AT)
    assert run(old, store, BOOKED_AT) == {"sent": 1, "failed": 0, "skipped": 0, "unknown": 1}
    assert [r.status for r in reminders(store).values() if ":confirmation:" in r.key] == ["sent", "pending",
                                                                                          "unknown"]
    new = settings_with(write_settings, tmp_path, names=("aws", "mails"), reminders="routes: {sms: aws}")
    later = BOOKED_AT + timedelta(hours=1)
    assert run(new, store, later) == {"sent": 1, "failed": 0, "skipped": 0, "unknown": 0}
    assert run(new, store, later) == {"sent": 0, "failed": 0, "skipped": 0, "unknown": 0}
    rows = reminders(store)
    assert (rows["a2:patient:confirmation:v1"].status, rows["a2:patient:confirmation:v1"].notifier) == ("sent", "aws")
    assert (rows["a3:patient:confirmation:v1"].status, rows["a3:patient:confirmation:v1"].notifier) == (
        "unknown", "twilio")
    assert [line["to"] for line in read_log(tmp_path / "aws.jsonl")] == ["+12125550102"]
    with store.engine.connect() as connection:
        attempts = [(d.notifier, d.outcome) for d in connection.execute(
            select(DELIVERIES).where(DELIVERIES.c.reminder_id == rows["a2:patient:confirmation:v1"].id)
            .order_by(DELIVERIES.c.id))]
    assert attempts == [("twilio", "retryable"), ("aws", "sent")]


# -- delivery callbacks for messages the replaced provider sent --------------------------------
@pytest.mark.anyio
async def test_a_replaced_twilio_kept_unrouted_still_takes_its_callbacks_and_once_removed_they_are_refused_and_counted(
        store: Store, write_settings: SettingsFactory, tmp_path: Path, scripted: Path) -> None:
    """Pins main's behaviour: webhooks are verified with the token of every configured Twilio
    notifier, routed or not. Kept in `notifiers:` after the switch (routes to the new one), the
    old account's status callbacks (and replies, STOP included) are still recorded; removed,
    they get 403 and count as `forbidden` (ClinicsyncWebhookSignatureFailures), never silently
    taken as valid."""
    kept = settings_with(write_settings, tmp_path, names=("texts", "mails"), notifiers=TWILIO,
                         reminders="routes: {sms: texts}")
    put(store, appointment("A1", START, email=None), appointment("A2", START, patient="P2", phone="+12125550102",
                                                                  email=None))
    plan(kept, store, BOOKED_AT)
    assert run(kept, store, BOOKED_AT)["sent"] == 2
    sids = {k: r.provider_id for k, r in reminders(store).items() if r.status == "sent"}
    path = "/webhooks/twilio/status"
    first = {"MessageSid": sids["a1:patient:confirmation:v1"], "MessageStatus": "delivered"}
    async with client_for(kept, store) as client:
        assert (await client.post(path, data=first, headers=signed(path, first))).status_code == 204
    removed = settings_with(write_settings, tmp_path, names=("texts", "mails"),
                            notifiers=f"server:\n  public_url: {PUBLIC}\n", reminders="routes: {sms: texts}")
    second = {"MessageSid": sids["a2:patient:confirmation:v1"], "MessageStatus": "delivered"}
    async with client_for(removed, store) as client:
        assert (await client.post(path, data=second, headers=signed(path, second))).status_code == 403
        metrics = (await client.get("/metrics")).text
    assert 'clinicsync_webhook_requests_total{endpoint="twilio_status",result="forbidden"} 1.0' in metrics
    assert {k: s for k, (s, _) in states(store).items() if ":confirmation:" in k} == {
        "a1:patient:confirmation:v1": "delivered", "a2:patient:confirmation:v1": "sent"}


# -- a route left naming a removed notifier ----------------------------------------------------
def test_config_validate_names_a_route_to_a_removed_notifier(write_settings: SettingsFactory, cli: Any) -> None:
    """Twilio removed from `notifiers:` but `reminders.routes.sms` still names it: `remind` refuses
    every run (exit 2, the key named); `config validate`, run after the edit, said `valid`."""
    path = write_settings(extra="notifiers:\n  - {name: box, kind: outbox, directory: out}\n"
                                "reminders:\n  routes: {sms: twilio}\n")
    _code, out, err = cli(path)("config", "validate", expect=2)
    assert "reminders.routes.sms: no notifier named 'twilio' (known: ['box'])" in err and "valid" not in out
    fixed = write_settings(extra="notifiers:\n  - {name: box, kind: outbox, directory: out}\n"
                                 "reminders:\n  routes: {sms: box}\n")
    assert "valid" in cli(fixed)("config", "validate")[1]


def test_a_message_waiting_out_the_old_providers_backoff_goes_at_once_through_the_new_one(
        store: Store, write_settings: SettingsFactory, tmp_path: Path, scripted: Path) -> None:
    """Twilio refused (down, or its token rotated) and the clinic switches SMS to AWS: the waiting
    message's backoff (up to `retry_backoff_max`, 1 h by default) and any Retry-After were the old
    provider's. On main it still waited them out before the new provider was even tried — a
    notice or a 1-hour reminder could end `failed` "too late after N failed attempts" with a
    working provider configured. Now it is due at once, and goes once."""
    old = settings_with(write_settings, tmp_path, names=("twilio", "mails"), outcomes="{'+12125550101': retryable}",
                        reminders="routes: {sms: twilio}\nretry_backoff: 45m\nretry_backoff_max: 2h")
    put(store, appointment("A1", START, email=None))
    plan(old, store, BOOKED_AT)
    assert Dispatcher(old, store, BOOKED_AT).run().retrying == 1
    waiting = reminders(store)["a1:patient:confirmation:v1"]
    assert waiting.status == "pending" and waiting.due_at == BOOKED_AT + timedelta(minutes=45)
    new = settings_with(write_settings, tmp_path, names=("aws", "mails"),
                        reminders="routes: {sms: aws}\nretry_backoff: 45m\nretry_backoff_max: 2h")
    soon = BOOKED_AT + timedelta(minutes=2)
    assert run(new, store, soon) == {"sent": 1, "failed": 0, "skipped": 0, "unknown": 0}
    assert run(new, store, soon + timedelta(hours=1))["sent"] == 0
    row = reminders(store)["a1:patient:confirmation:v1"]
    assert (row.status, row.notifier) == ("sent", "aws")
    assert [line["to"] for line in read_log(tmp_path / "aws.jsonl")] == ["+12125550101"]


def test_a_message_waiting_out_its_own_providers_backoff_still_waits_after_a_restart(
        store: Store, write_settings: SettingsFactory, tmp_path: Path, scripted: Path) -> None:
    """The same notifier (the settings reloaded, another notifier added): the backoff stands."""
    settings = settings_with(write_settings, tmp_path, names=("twilio", "mails"),
                             outcomes="{'+12125550101': retryable}",
                             reminders="routes: {sms: twilio}\nretry_backoff: 45m\nretry_backoff_max: 2h")
    put(store, appointment("A1", START, email=None))
    plan(settings, store, BOOKED_AT)
    run(settings, store, BOOKED_AT)
    again = settings_with(write_settings, tmp_path, names=("twilio", "mails", "aws"),
                          reminders="routes: {sms: twilio}\nretry_backoff: 45m\nretry_backoff_max: 2h")
    assert run(again, store, BOOKED_AT + timedelta(minutes=2))["sent"] == 0
    assert reminders(store)["a1:patient:confirmation:v1"].due_at == BOOKED_AT + timedelta(minutes=45)
    assert run(again, store, BOOKED_AT + timedelta(minutes=46))["sent"] == 1


def test_switching_patients_from_sms_to_whatsapp_sends_a_refused_sms_once_by_whatsapp(
        store: Store, write_settings: SettingsFactory, tmp_path: Path, scripted: Path) -> None:
    """Pins main's behaviour: `reminders.channels` switched from SMS to WhatsApp while a message
    waits after an SMS refusal (never taken): it goes by WhatsApp after its backoff, once, and no
    SMS follows; a message the SMS provider may have taken (`unknown`) is not sent by WhatsApp."""
    sms_first = ("routes: {sms: texts, whatsapp: chat}\nretry_backoff: 10m\n")
    old = settings_with(write_settings, tmp_path, names=("texts", "chat"), reminders=sms_first,
                        outcomes="{'+12125550101': retryable, '+12125550103': crash}")
    put(store, appointment("A1", START, email=None, channel=None),
        appointment("A3", START, patient="P3", phone="+12125550103", email=None, channel=None))
    plan(old, store, BOOKED_AT)
    assert run(old, store, BOOKED_AT) == {"sent": 0, "failed": 0, "skipped": 0, "unknown": 1}
    new = settings_with(write_settings, tmp_path, names=("texts", "chat"),
                        reminders=sms_first + "channels: [whatsapp, email]")
    assert run(new, store, BOOKED_AT + timedelta(minutes=11)) == {"sent": 1, "failed": 0, "skipped": 0,
                                                                   "unknown": 0}
    assert run(new, store, BOOKED_AT + timedelta(hours=2))["sent"] == 0
    rows = reminders(store)
    assert (rows["a1:patient:confirmation:v1"].status, rows["a1:patient:confirmation:v1"].channel) == (
        "sent", "whatsapp")
    assert rows["a2:patient:confirmation:v1"].status == "unknown"
    assert [(line["channel"], line["to"]) for line in read_log(tmp_path / "chat.jsonl")] == [
        ("whatsapp", "+12125550101")]
    assert [line["to"] for line in read_log(tmp_path / "texts.jsonl")] == []  # the crash came before it was logged


# `templates check` reads the store only for its patients' languages, one dialect-neutral
# SELECT (template_check.patient_languages): SQLite shows the check as well as PostgreSQL does.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_templates_check_fails_on_a_placeholder_typo(write_settings: SettingsFactory, cli: Any,
                                                     tmp_path: Path) -> None:
    """The check an admin runs after editing a template: on main a placeholder typo was a warning
    and exit 0, while every message from the template failed to render when sent."""
    typo_templates(tmp_path)
    config = write_settings(extra="reminders:\n  templates: tpl\n")
    code, table, _ = cli(config)("templates", "check", expect=None)
    assert code == 1
    assert "en/reminder.sms: undefined variable 'frist_name': each message from this template fails to render" \
        in " ".join(table.split())
    typo_templates(tmp_path, "Hi {{ first_name }}, see you {{ date }}.")
    assert cli(config)("templates", "check", expect=None)[0] == 0
