"""Templates: languages and fallback, locale formatting, HTML escaping, the sandbox,
the .ics attachments (through the real outbox notifier), and `templates check`."""

from __future__ import annotations

import email
import json
from dataclasses import replace
from datetime import UTC, datetime
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from clinicsync.sync.config.settings.reminders import RemindersSettings
from clinicsync.sync.reminders.compose import Composer, Draft, Visit
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.render import Renderer, TemplateProblem
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put

START = datetime(2026, 11, 23, 19, 15, tzinfo=UTC)  # 14:15 EST
VISIT = Visit("c1", "A1", START, START.replace(minute=45), "America/New_York", 3, "Follow-up",
              "Main <Street> Clinic", "Dr. O'Brien", "Ana María Ruiz")


def compose(kind: str, channel: str, language: str | None, visit: Visit = VISIT, replies: bool = False,
            **config: object) -> Any:
    composer = Composer(RemindersSettings(**config), "Demo & Co", Renderer(),  # type: ignore[arg-type]
                        replies=replies)
    return composer.render(Draft("a1:patient:x:v3", kind, "patient", language, visit=visit), channel, START)


def test_the_patients_language_picks_the_set_and_babel_formats_for_the_locale() -> None:
    english = compose("reminder", "sms", "en-US")
    spanish = compose("reminder", "sms", "es-MX")
    french = compose("reminder", "sms", "fr")  # no French set: English
    assert english.language == "en" and "Mon, Nov 23 at 2:15 PM" in english.text  # an SMS's short date
    assert spanish.language == "es" and "lun 23 de nov, 2:15 p.m." in spanish.text
    assert "Ana, recuerde su cita" in spanish.text
    assert "Monday, November 23, 2026, 2:15\u202fPM (EST)" in compose("reminder", "email", "en-US").text
    assert french.language == "en" and "Mon, Nov 23" in french.text
    assert compose("reminder", "sms", "es").text.count("14:15") == 1  # Spain: 24-hour clock
    assert english.encoding == "GSM-7" and "\u202f" not in english.text  # babel's narrow space made plain


def test_html_is_escaped_and_text_is_not() -> None:
    rendered = compose("confirmation", "email", "en")
    assert "Main &lt;Street&gt; Clinic" in rendered.html and "Dr. O&#39;Brien" in rendered.html
    assert "Demo &amp; Co" in rendered.html
    assert "Main <Street> Clinic" in rendered.text and "Demo & Co" in rendered.text
    assert rendered.subject == "Demo & Co: Your appointment on Monday, November 23, 2026 at 2:15 PM"


def test_links_and_reply_instructions() -> None:
    assert "Reply C" not in compose("reminder", "sms", "en").text  # no reply path: no promise of one
    plain = compose("reminder", "sms", "en", replies=True)
    assert plain.text.endswith("Reply C to confirm, X to cancel. Reply STOP to opt out.")
    linked = compose("reminder", "email", "en", confirm_url="https://c.example/r/{key}/yes",
                     decline_url="https://c.example/r/{key}/no")
    assert 'href="https://c.example/r/a1:patient:x:v3/yes"' in linked.html
    assert ("\nConfirm: https://c.example/r/a1:patient:x:v3/yes\nCancel: https://c.example/r/a1:patient:x:v3/no\n"
            in linked.text)  # one link per line


def test_the_sandbox_refuses_unsafe_attribute_access(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "reminder.sms.txt").write_text("{{ clinic.__class__.__mro__[1].__subclasses__() }}")
    composer = Composer(RemindersSettings(), "Demo", Renderer(tmp_path))
    with pytest.raises(TemplateProblem, match=r"unsafe|access"):
        composer.render(Draft("k", "reminder", "patient", "en", visit=VISIT), "sms", START)


def test_an_undefined_variable_fails_the_message_not_the_run(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "reminder.sms.txt").write_text("Hi {{ frist_name }}")
    composer = Composer(RemindersSettings(), "Demo", Renderer(tmp_path))
    with pytest.raises(TemplateProblem, match="frist_name"):
        composer.render(Draft("k", "reminder", "patient", "en", visit=VISIT), "sms", START)


def _eml(folder: Path, key: str) -> EmailMessage:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
    return email.message_from_bytes((folder / "email" / f"{safe}.eml").read_bytes())


def _ics(message: EmailMessage) -> Calendar:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return Calendar.from_ical(part.get_payload(decode=True))


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_confirmation_reschedule_and_cancellation_emails_carry_a_stable_ics(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    settings = reminder_settings(
        "quiet_hours: null\nagenda: {enabled: false}\noffsets: []\nchannels: [email]\nroutes: {email: files}",
        extra_notifiers=f"  - name: files\n    kind: outbox\n    directory: {outbox}\n")
    booked = appointment("A1", START, channel="email")
    put(store, booked)
    day = datetime(2026, 11, 20, 15, tzinfo=UTC)
    plan(settings, store, day)
    Dispatcher(settings, store, day).run()
    put(store, replace(booked, start=START.replace(hour=20), end=START.replace(hour=21)))
    plan(settings, store, day.replace(hour=16))
    Dispatcher(settings, store, day.replace(hour=16)).run()
    put(store, replace(booked, start=START.replace(hour=20), end=START.replace(hour=21), status="cancelled"))
    plan(settings, store, day.replace(hour=17))
    Dispatcher(settings, store, day.replace(hour=17)).run()

    confirmation = _eml(outbox, "a1:patient:confirmation:v1")
    assert confirmation["To"] == "ana@example.org"
    assert confirmation["Subject"] == "clinic: Your appointment on Monday, November 23, 2026 at 2:15 PM"
    kinds = [p.get_content_type() for p in confirmation.walk()]
    assert "text/plain" in kinds and "text/html" in kinds
    calendars = [_ics(_eml(outbox, key)) for key in
                 ("a1:patient:confirmation:v1", "a1:patient:rescheduled:v2", "a1:patient:cancelled:v3")]
    methods = [str(c["METHOD"]) for c in calendars]
    events = [next(iter(c.walk("VEVENT"))) for c in calendars]
    assert methods == ["PUBLISH", "PUBLISH", "PUBLISH"]  # a file to add, not an invitation to answer
    assert {str(e["UID"]) for e in events} == {"c1-A1@clinicsync"}
    assert [int(e["SEQUENCE"]) for e in events] == [1, 2, 3]
    assert events[0].decoded("DTSTART") == START
    assert events[1].decoded("DTSTART") == START.replace(hour=20)
    assert str(events[2]["STATUS"]) == "CANCELLED"
    # PUBLISH without ORGANIZER or ATTENDEE: no Yes/No/Maybe whose replies go nowhere (issue 30, obs 12).
    [part] = [p for p in confirmation.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_content_charset() == "utf-8" and part.get_param("method") == "PUBLISH"
    for event in events:
        assert "ORGANIZER" not in event and "ATTENDEE" not in event and b"RSVP" not in event.to_ical()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_templates_check_passes_on_the_shipped_set(write_settings, cli) -> None:  # type: ignore[no-untyped-def]
    _, out, _ = cli(write_settings())("templates", "check", "--json")
    results = json.loads(out)
    assert {r["language"] for r in results} == {"en", "es"}
    assert {(r["template"], r["channel"]) for r in results if r["language"] == "es"} >= {
        ("reminder", "sms"), ("reminder", "email"), ("cancelled", "sms")}
    assert all(not r["warnings"] and not r["error"] for r in results), [r for r in results if r["warnings"]]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_templates_check_fails_on_long_sms_and_undefined_variables(write_settings, cli,  # type: ignore[no-untyped-def]
                                                                       tmp_path: Path) -> None:
    custom = tmp_path / "templates" / "en"
    custom.mkdir(parents=True)
    (custom / "reminder.sms.txt").write_text("{{ clinic }} " + "Ж" * 250 + " {{ doctr }}")
    config = write_settings(extra="reminders:\n  templates: templates\n")
    _, out, _ = cli(config)("templates", "check", "--json", expect=None)
    [result] = [r for r in json.loads(out) if (r["language"], r["template"], r["channel"]) == ("en", "reminder",
                                                                                                   "sms")]
    assert result["segments"] == 4 and result["encoding"] == "UCS-2"
    assert result["problems"] == [f"4 SMS segments (UCS-2, 257 characters; one segment holds 70) on {result['sample']}",
                                  "undefined variable 'doctr': each message from this template fails to render"]
    assert result["warnings"] == []
    code, table, _ = cli(config)("templates", "check", expect=None)
    assert code == 1 and "undefined variable" in table
