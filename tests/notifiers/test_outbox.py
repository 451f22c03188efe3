"""The dry-run outbox: files a person (or a test) can open, named by the idempotency key."""

from __future__ import annotations

import email
import json
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest

from clinicsync.notifiers.base import PermanentError
from clinicsync.notifiers.mime import message_id
from clinicsync.notifiers.outbox import OutboxNotifier, OutboxSettings
from tests.notifiers.conftest import ICS, email_message, text_message


def outbox(folder: Path) -> OutboxNotifier:
    return OutboxNotifier(OutboxSettings(name="outbox", directory=folder, sender="Clinic <clinic@example.org>"))


def test_email_is_an_eml_that_parses_back(tmp_path: Path) -> None:
    message = email_message()
    receipt = outbox(tmp_path).send(message)
    [path] = (tmp_path / "email").iterdir()
    assert path.suffix == ".eml" and receipt.provider_id == path.name
    parsed = email.message_from_bytes(path.read_bytes(), policy=default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["To"] == message.recipient and parsed["Subject"] == message.subject
    assert parsed["Message-ID"] == message_id(message.idempotency_key, "clinic@example.org")
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None and plain.get_content() == message.body_text
    assert html is not None and html.get_content().strip() == message.body_html
    [invite] = list(parsed.iter_attachments())
    assert invite.get_content_type() == "text/calendar" and invite.get_param("method") == "REQUEST"
    assert invite.get_content() == ICS.decode()


def test_sms_and_whatsapp_are_json(tmp_path: Path) -> None:
    notifier = outbox(tmp_path)
    notifier.send(text_message("sms"))
    notifier.send(text_message("whatsapp", template_id="HX1", template_variables={"1": "Ana"}))
    sms = json.loads(next((tmp_path / "sms").iterdir()).read_text())
    assert sms == {"channel": "sms", "to": "+14155550123", "body": text_message().body_text, "language": "en",
                   "key": text_message().idempotency_key, "template_id": None, "template_variables": {},
                   "metadata": {"reminder_id": "42"}}
    whatsapp = json.loads(next((tmp_path / "whatsapp").iterdir()).read_text())
    assert whatsapp["template_id"] == "HX1" and whatsapp["template_variables"] == {"1": "Ana"}


def test_a_resend_overwrites_instead_of_duplicating(tmp_path: Path) -> None:
    notifier = outbox(tmp_path)
    notifier.send(text_message())
    notifier.send(text_message())
    notifier.send(text_message(idempotency_key="another"))
    assert sorted(p.suffix for p in (tmp_path / "sms").iterdir()) == [".json", ".json"]


def test_invalid_phone_numbers_are_refused_as_a_provider_would(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="refused before sending"):
        outbox(tmp_path).send(text_message(recipient="555-0100"))
    assert not (tmp_path / "sms").exists() or not any((tmp_path / "sms").iterdir())
