"""The reply rehearsal of docs/responses.md, on one machine: moto's server stands in for AWS.

An AWS SMS reminder goes out through the real boto3 notifier (SNS Publish to moto); the
patient's "SI" is published to the two-way SMS topic, and moto's SNS delivers it — signed
with moto's own key — to `clinicsync serve`'s /webhooks/aws/sns, which trusts moto's
certificate only because the rehearsal key is set AND CLINICSYNC_REHEARSAL=1; the answer
is recorded and the patient is texted the answer in Spanish.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from sqlalchemy import select

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.model.responses import RESPONSES
from clinicsync.sync.store.store import Store
from tests.notifiers.aws_fake import REGION, sns_sms_messages
from tests.rehearsal.support import PHONE, csv_connector, mapping, row, visit_start, write_export
from tests.server.test_serve import free_port
from tests.server.uvicorn_thread import running

LONG_CODE = "+12125550100"


def rehearsal_settings(moto: str, topic: str, public: str, store_url: str, connectors: str) -> str:
    return f"""\
clinic: {{timezone: America/New_York, default_region: US}}
store: {{url: "{store_url}"}}
connectors:
{connectors}
server: {{public_url: "{public}"}}
notifiers:
  - name: aws
    kind: aws_sms
    api: sns
    region: {REGION}
    origination_identity: "{LONG_CODE}"
    endpoint_url: {moto}
    inbound_topic_arns: ["{topic}"]
reminders:
  offsets: [1d]
  confirmation: false
  quiet_hours: null
  channels: [sms]
  routes: {{sms: aws}}
responses:
  insecure_sns_signing_certs_from_local_server_for_rehearsal: {moto}
"""


def test_an_sms_reminder_and_an_sns_reply_on_one_machine(moto_sns: str, tmp_path: Path, cli: Any,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CLINICSYNC_REHEARSAL", "1")
    sns = boto3.client("sns", region_name=REGION, endpoint_url=moto_sns)
    topic = sns.create_topic(Name="clinic-two-way-sms")["TopicArn"]
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    start = visit_start()
    drop = tmp_path / "drop"
    write_export(drop / "export.csv", [row(1, start, patient_phone=PHONE)])
    settings = tmp_path / "settings.yaml"
    settings.write_text(rehearsal_settings(moto_sns, topic, public, store_url,
                                           "  " + csv_connector(drop, mapping(tmp_path)).replace("\n", "\n  ")))
    run = cli(settings)

    # 1. the reminder goes out through the real boto3 client, to moto's SNS (a server the
    #    session shares: other tests' texts to the same number are already there)
    earlier = len([text for phone, text in sns_sms_messages() if phone == PHONE])
    run("sync", "--once")
    due = (start - timedelta(days=1) + timedelta(minutes=1)).isoformat()
    _, sent, _ = run("remind", "--once", "--at", due, "--json")
    texts = [text for phone, text in sns_sms_messages() if phone == PHONE][earlier:]
    assert len(texts) == 1, (sent, sns_sms_messages())
    assert "C" in texts[0] and "responda" in texts[0].lower()  # the Spanish prompt: server.public_url is set

    # 2. serve's app listens (in a thread: the same app `clinicsync serve` runs); moto's SNS
    #    delivers the topic to it
    loaded = load_settings(settings)
    store = Store.on(make_engine(store_url), loaded.store)
    with running(uvicorn.Config(create_app(loaded, store), host="127.0.0.1", port=port, log_level="warning",
                                lifespan="off")):
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=f"{public}/webhooks/aws/sns")
        # 3. the patient answers "SI": AWS End User Messaging publishes it to the topic
        inbound = {"originationNumber": PHONE, "destinationNumber": LONG_CODE, "messageBody": "SI",
                   "inboundMessageId": "rehearsal-1", "messageKeyword": "KEYWORD_SI"}
        sns.publish(TopicArn=topic, Message=json.dumps(inbound))
        with store.engine.connect() as connection:  # moto delivers before Publish returns
            recorded = connection.execute(select(RESPONSES.c.action, RESPONSES.c.outcome,
                                                 RESPONSES.c.provider_id)).all()
        assert [tuple(r) for r in recorded] == [("confirm", "applied", "aws:rehearsal-1")]
        # 4. the patient is texted the answer, in Spanish, through moto again
        answers = [text for phone, text in sns_sms_messages() if phone == PHONE][earlier + 1:]
        assert answers == ["Gracias, su cita está confirmada."]
    store.close()
    assert "REHEARSAL" in capsys.readouterr().out  # the server says loudly whom it trusts
    _, listed, _ = run("appointments", "list", "--json", expect=None)
    assert "accepted" in listed


def test_the_rehearsal_key_is_refused_without_the_flag(tmp_path: Path, cli: Callable[..., Any],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A production settings file carrying the key alone does not start anything."""
    monkeypatch.delenv("CLINICSYNC_REHEARSAL", raising=False)
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"store: {{url: 'sqlite:///{tmp_path / 'db'}'}}\nresponses:\n"
                        "  insecure_sns_signing_certs_from_local_server_for_rehearsal: http://127.0.0.1:5000\n")
    _, _, err = cli(settings)("config", "validate", expect=2)
    assert "insecure_sns_signing_certs_from_local_server_for_rehearsal" in err and "CLINICSYNC_REHEARSAL=1" in err
