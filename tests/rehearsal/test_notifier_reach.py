"""`check` reaches each notifier's provider with the notifier's own real client, sending
nothing: SMTP (aiosmtpd on loopback: connect, EHLO, quit), AWS SNS (moto's server: an
authenticated GetSMSAttributes), Twilio (its account, from a loopback API) and SendGrid
(its key's scopes). A provider that cannot be reached is a problem: exit 1, counted in
the summary line, the reason named without the secret."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import PUSH_ONLY_SOURCE
from tests.notifiers.aws_fake import REGION
from tests.notifiers.conftest import FakeApi

ACCOUNT = "AC" + "0123456789abcdef" * 2
SECRET = "s3cr3t-token-0123456789"


def reach(write_settings: Callable[..., Path], cli: Any, notifiers: str, expect: int) -> tuple[dict[str, Any], str]:
    run = cli(write_settings(PUSH_ONLY_SOURCE, extra=f"notifiers:\n{notifiers}reminders: {{enabled: false}}\n"))
    _, out, _ = run("check", "--json", expect=expect)
    report = json.loads(out)
    assert SECRET not in out
    return {n["notifier"]: n for n in report["notifiers"]}, report["summary"]


def test_smtp_is_reached_and_a_closed_port_is_a_problem(smtp_server: Any, closed_port_url: str,
                                                         write_settings: Callable[..., Path], cli: Any) -> None:
    controller, sink = smtp_server()
    dead_port = closed_port_url.rsplit(":", 1)[1]
    found, summary = reach(write_settings, cli, (
        f"  - {{name: mail, kind: smtp, host: 127.0.0.1, port: {controller.port}, security: none, "
        "sender: 'Clinic <r@clinic.example>'}\n"
        f"  - {{name: dead, kind: smtp, host: 127.0.0.1, port: {dead_port}, security: none, "
        "sender: 'Clinic <r@clinic.example>', timeout: 5}\n"), expect=1)
    assert found["mail"]["ok"] and "answered EHLO" in found["mail"]["detail"]
    assert not found["dead"]["ok"] and "could not talk to the SMTP server" in found["dead"]["detail"]
    assert summary.endswith(", 1 problem") and not sink.received  # nothing was sent


def test_aws_sns_credentials_are_tried_on_moto(moto_sns: str, write_settings: Callable[..., Path], cli: Any) -> None:
    found, summary = reach(write_settings, cli, (
        f"  - {{name: aws, kind: aws_sms, api: sns, region: {REGION}, endpoint_url: {moto_sns}}}\n"), expect=0)
    assert found["aws"]["ok"] and "accepted the credentials" in found["aws"]["detail"]
    assert summary.endswith(", 0 problems")


def test_twilio_and_sendgrid_are_asked_with_their_own_clients(fake_api: FakeApi, write_settings: Callable[..., Path],
                                                              cli: Any) -> None:
    fake_api.reply(401, {"code": 20003, "message": "Authenticate", "status": 401})  # Twilio: a wrong token
    fake_api.reply(200, {"scopes": ["mail.send"]})  # SendGrid: the key may send
    found, summary = reach(write_settings, cli, (
        f"  - {{name: sms, kind: twilio_sms, account_sid: {ACCOUNT}, auth_token: {SECRET}, "
        f"from_number: '+15005550006', api_root: '{fake_api.url}'}}\n"
        f"  - {{name: mail, kind: sendgrid, api_key: SG.{SECRET}, sender: 'Clinic <r@clinic.example>', "
        f"api_root: '{fake_api.url}'}}\n"), expect=1)
    twilio_request, sendgrid_request = fake_api.requests
    assert twilio_request.method == "GET" and twilio_request.path == f"/2010-04-01/Accounts/{ACCOUNT}.json"
    assert sendgrid_request.method == "GET" and sendgrid_request.path == "/v3/scopes"
    assert not found["sms"]["ok"] and "authentication failed" in found["sms"]["detail"]
    assert found["mail"]["ok"] and "mail.send" in found["mail"]["detail"]
    assert summary.endswith(", 1 problem")
