"""An overall deadline per send (issue 59): a peer that answers one byte every 2 s never trips a
per-read timeout (here 5 s); ``send_deadline`` (here 1 s) ends the send, classified as the
notifier contract says: nothing handed over yet (the greeting crawls) -> retryable; the message
handed over and its answer crawling -> unknown. Through the real smtplib and Twilio clients,
against real sockets on loopback (tests/notifiers/trickle.py)."""

from __future__ import annotations

import time

import pytest

from clinicsync.notifiers.base import DeliveryUnknownError, RetryableError
from clinicsync.notifiers.smtp import SmtpNotifier, SmtpSettings
from clinicsync.notifiers.twilio_sms import TwilioSmsNotifier
from tests.notifiers.conftest import email_message, text_message
from tests.notifiers.trickle import trickling
from tests.reliability.twilio_fake import ACCOUNT, FROM, TOKEN
from tests.sync.reminders.test_slow_peers import warm_up_smtp, warm_up_twilio

DEADLINE = 1.0
SLACK = 2.0  # a loaded machine: the send ends at the deadline, give or take the scheduler


@pytest.fixture(autouse=True)
def _warm() -> None:
    """Each client's first use imports modules inside its send (a 1 s deadline counts them)."""
    warm_up_smtp()
    warm_up_twilio()


def smtp(port: int) -> SmtpNotifier:
    return SmtpNotifier(SmtpSettings(name="mail", host="127.0.0.1", port=port, security="none",
                                     sender="reminders@clinic.example", timeout=5, send_deadline=DEADLINE))


def test_a_greeting_that_trickles_ends_retryable_at_the_deadline() -> None:
    with trickling("smtp-banner") as server:
        notifier = smtp(server.port)
        started = time.monotonic()
        with pytest.raises(RetryableError) as caught:
            notifier.deliver(email_message())
        elapsed = time.monotonic() - started
    assert DEADLINE <= elapsed < DEADLINE + SLACK, elapsed
    assert not isinstance(caught.value, DeliveryUnknownError) and server.received == []
    assert "send deadline of 1 s" in str(caught.value) and "notifiers[mail].send_deadline" in str(caught.value)


def test_an_answer_to_the_message_that_trickles_ends_unknown_at_the_deadline() -> None:
    with trickling("smtp-after-data") as server:
        notifier = smtp(server.port)
        started = time.monotonic()
        with pytest.raises(DeliveryUnknownError) as caught:
            notifier.deliver(email_message())
        elapsed = time.monotonic() - started
        assert len(server.received) == 1  # it was handed over: it may have gone
    assert DEADLINE <= elapsed < DEADLINE + SLACK, elapsed
    assert "send deadline of 1 s" in str(caught.value)
    assert "ana.garcia" not in str(caught.value)  # no recipient in a reason
    # The next send is not held back by the scope of the last one: a fresh connection, a fresh deadline.
    with trickling("smtp-banner") as server:
        notifier.settings = notifier.settings.model_copy(update={"port": server.port})
        started = time.monotonic()
        with pytest.raises(RetryableError):
            notifier.deliver(email_message())
        assert time.monotonic() - started < DEADLINE + SLACK
    notifier.close()


def test_an_http_answer_that_trickles_ends_unknown_at_the_deadline() -> None:
    with trickling("http") as server:
        notifier = TwilioSmsNotifier(TwilioSmsNotifier.settings_model.model_validate({
            "name": "texts", "kind": "twilio_sms", "account_sid": ACCOUNT, "auth_token": TOKEN, "from_number": FROM,
            "api_root": f"http://127.0.0.1:{server.port}", "timeout": 5, "send_deadline": DEADLINE}))
        started = time.monotonic()
        with pytest.raises(DeliveryUnknownError) as caught:
            notifier.deliver(text_message())
        elapsed = time.monotonic() - started
        assert len(server.received) == 1  # the request went out: it may have been delivered
    notifier.close()
    assert DEADLINE <= elapsed < DEADLINE + SLACK, elapsed
    assert "send deadline of 1 s" in str(caught.value) and "notifiers[texts].send_deadline" in str(caught.value)


def test_a_send_that_ends_in_time_is_untouched_by_its_deadline() -> None:
    """A fast peer: the deadline's watchdog fires later and touches no socket of a finished send."""
    with trickling("smtp-after-data", interval=0.0) as server:
        notifier = smtp(server.port)
        for _ in range(3):
            assert notifier.deliver(email_message()).status == "sent"
        time.sleep(DEADLINE + 0.2)  # the first deadlines pass: the kept connection must still work
        assert notifier.deliver(email_message()).status == "sent"
        notifier.close()
    assert len(server.received) == 4
