"""Non-ASCII email addresses (RFC 6531): sent with SMTPUTF8 and written as UTF-8 in the
headers, never as an encoded-word inside the address (issue 16, observation 10)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clinicsync.notifiers.base import PermanentError
from clinicsync.notifiers.mime import build_email
from tests.notifiers.conftest import LoopbackController, MailSink, email_message
from tests.notifiers.test_smtp import notifier, parse

RECIPIENT = "josé.müller@exämple.org"


@pytest.fixture
def utf8_server() -> Iterator[tuple[LoopbackController, MailSink]]:
    sink = MailSink()
    controller = LoopbackController(sink, enable_SMTPUTF8=True)
    controller.start()
    yield controller, sink
    controller.stop()


def test_a_non_ascii_address_goes_out_with_smtputf8(utf8_server: tuple[LoopbackController, MailSink]) -> None:
    controller, sink = utf8_server
    mail = notifier(controller.port)
    mail.send(email_message(recipient=RECIPIENT))
    mail.close()
    [got] = sink.received
    assert got.rcpt_tos == [RECIPIENT]
    assert b"=?utf-8?" not in got.content.split(b"\r\n\r\n", 1)[0].lower()
    assert f"To: {RECIPIENT}".encode() in got.content
    assert parse(got.content)["To"] == RECIPIENT


def test_an_ascii_address_keeps_plain_7bit_headers(utf8_server: tuple[LoopbackController, MailSink]) -> None:
    controller, sink = utf8_server
    mail = notifier(controller.port)
    mail.send(email_message())
    mail.close()
    [got] = sink.received
    assert got.content.split(b"\r\n\r\n", 1)[0].isascii()


def test_the_built_message_never_puts_an_encoded_word_in_an_address() -> None:
    built = build_email(email_message(recipient=RECIPIENT), "Clínica Demo <reminders@clinic.example>")
    head = bytes(built).split(b"\n\n", 1)[0]
    to_line = next(line for line in head.splitlines() if line.startswith(b"To:"))
    assert b"=?" not in to_line and RECIPIENT.encode() in to_line


def test_a_server_without_smtputf8_is_a_permanent_error_naming_the_reason() -> None:
    sink = MailSink()
    controller = LoopbackController(sink, enable_SMTPUTF8=False)
    controller.start()
    mail = notifier(controller.port)
    with pytest.raises(PermanentError, match="SMTPUTF8"):
        mail.send(email_message(recipient=RECIPIENT))
    mail.close()
    controller.stop()
    assert sink.received == []
