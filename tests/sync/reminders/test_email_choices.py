"""Patients' emails through the real smtp notifier to a real aiosmtpd on loopback (issue 30,
obs 12): the three choices as links (confirm, cancel, ask for another time), the clinic in
the subject, and an .ics that adds the visit to a calendar without Yes/No/Maybe buttons
(METHOD:PUBLISH, no ORGANIZER, no ATTENDEE, no RSVP)."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default

import pytest
from icalendar import Calendar

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.store import Store
from tests.notifiers.conftest import SmtpFactory, smtp_server  # noqa: F401  (the loopback SMTP fixture)
from tests.sync.reminders.conftest import appointment, put

START = datetime(2026, 11, 28, 15, 30, tzinfo=UTC)  # a Saturday, 10:30 in New York
NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)


def settings_for(write_settings, port: int, language: str):  # type: ignore[no-untyped-def]
    path = write_settings(extra=f"""
notifiers:
  - name: mail
    kind: smtp
    host: 127.0.0.1
    port: {port}
    security: none
    sender: "Clínica Santa Lucía <citas@clinic.example>"
    timeout: 5
server:
  public_url: https://clinic.example.org
  secret_key: test-only
reminders:
  quiet_hours: null
  agenda: {{enabled: false}}
  offsets: []
  channels: [email]
  routes: {{email: mail}}
""")
    text = path.read_text(encoding="utf-8").replace("  name: clinic\n", '  name: "Clínica Santa Lucía"\n', 1)
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("language", "subject_start", "labels"), [
    ("es", "Clínica Santa Lucía: Su cita del sábado", ("Confirmar", "Pedir otra hora", "Cancelar")),
    ("en", "Clínica Santa Lucía: Your appointment on Saturday", ("Confirm", "Ask for another time", "Cancel")),
])
def test_a_confirmation_email_offers_three_choices_names_the_clinic_and_publishes_the_visit(
        store: Store, write_settings, smtp_server: SmtpFactory,  # type: ignore[no-untyped-def]  # noqa: F811
        language: str, subject_start: str, labels: tuple[str, str, str]) -> None:
    controller, sink = smtp_server()
    settings = settings_for(write_settings, controller.port, language)
    put(store, appointment("A1", START, channel="email", language=language))
    plan(settings, store, NOW)
    Dispatcher(settings, store, NOW).run()

    [got] = sink.received
    message = email.message_from_bytes(got.content, policy=default)
    assert isinstance(message, EmailMessage)
    assert str(message["Subject"]).startswith(subject_start), message["Subject"]

    html = message.get_body(("html",))
    assert html is not None
    page = html.get_content()
    links = dict((label, href) for href, label in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', page))
    confirm, another, cancel = (links.get(label) for label in labels)
    assert confirm and confirm.startswith("https://clinic.example.org/r/"), links
    assert cancel and cancel.startswith("https://clinic.example.org/r/") and cancel != confirm, links
    assert another == f"{confirm}?step=reschedule", links  # the answer page at its "another time" step
    text = message.get_body(("plain",))
    assert text is not None
    plain = text.get_content()
    assert confirm in plain and cancel in plain and another in plain

    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "PUBLISH"
    calendar = Calendar.from_ical(part.get_payload(decode=True))
    assert str(calendar["METHOD"]) == "PUBLISH"
    [event] = calendar.walk("VEVENT")
    assert "ORGANIZER" not in event and "ATTENDEE" not in event
    assert b"RSVP" not in calendar.to_ical()
    assert event.decoded("DTSTART") == START and str(event["STATUS"]) == "CONFIRMED"
    assert "Clínica Santa Lucía" in str(event["SUMMARY"])
