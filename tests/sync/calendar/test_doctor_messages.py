"""What the doctor reads outside the calendar (issue 30, obs 13, 14): the change notice names
the visit's own date (not "Today's schedule changed" for a visit two weeks away), and the
morning agenda gives each row its zone when it is not the clinic's, its mode with the join link
or number to call, and marks the visits the patient has not confirmed. Rendered through the
real composer and the shipped templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clinicsync.common.timeutil import zone
from clinicsync.sync.config.clinic import ClinicSettings
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.config.settings.reminders import RemindersSettings
from clinicsync.sync.reminders.compose import Composer, Draft, Visit, composer_for
from clinicsync.sync.reminders.render import Renderer

CLINIC = ClinicSettings(name="Springfield Clinic", timezone="America/New_York", default_region="US",
                        language="en-US")
START = datetime(2026, 12, 8, 14, 0, tzinfo=UTC)  # Tue, Dec 8, 2026, 9:00 AM in New York


def plain(text: str | None) -> str:
    """CLDR's clock puts a narrow no-break space before AM/PM; compared here as a space."""
    return (text or "").replace("\u202f", " ")


def composer() -> Composer:
    return Composer(RemindersSettings(), CLINIC, Renderer())


def visit(**changes: object) -> Visit:
    data: dict[str, object] = {"connector": "csv", "external_id": "A1", "start": START,
                               "end": START + timedelta(minutes=30), "timezone": "America/New_York", "version": 1,
                               "type": "Follow-up", "location": "Room 4", "doctor": "Dr. Amelia Hart",
                               "patient_name": "Lucía Ramos"}
    return Visit(**{**data, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(("kind", "subject"), [
    ("declined", "Visit on Tue, Dec 8, 2026, 9:00 AM: declined by the patient"),
    ("rescheduled", "Visit on Tue, Dec 8, 2026, 9:00 AM: moved"),
    ("cancelled", "Visit on Tue, Dec 8, 2026, 9:00 AM: cancelled"),
    ("confirmation", "Visit on Tue, Dec 8, 2026, 9:00 AM: new booking"),
])
def test_a_doctors_notice_names_the_visits_date(kind: str, subject: str) -> None:
    rendered = composer().render(Draft("k", kind, "practitioner", None, visit=visit()), "email", START)
    text = plain(rendered.text)
    assert plain(rendered.subject) == subject
    assert "Today" not in subject and "Today" not in text
    assert "Tue, Dec 8, 2026, 9:00 AM · Lucía Ramos · Follow-up" in text and "Room 4" in text
    assert ("stays booked in the clinic's system" in text) == (kind == "declined")


def test_a_notice_of_a_visit_in_another_zone_names_that_zone() -> None:
    chicago = visit(timezone="America/Chicago")
    rendered = composer().render(Draft("k", "rescheduled", "practitioner", None, visit=chicago), "email", START)
    assert plain(rendered.subject) == "Visit on Tue, Dec 8, 2026, 8:00 AM CST: moved"


def test_a_notice_says_how_a_remote_visit_starts() -> None:
    video = visit(visit_mode="video", join_url="https://vc.example.org/d/42")
    phone = visit(visit_mode="phone", dial_in="+13125550188")
    text = composer().render(Draft("k", "confirmation", "practitioner", None, visit=video), "email", START).text
    assert "Video visit. Join: https://vc.example.org/d/42" in text and "Room 4" not in text
    text = composer().render(Draft("k", "confirmation", "practitioner", None, visit=phone), "email", START).text
    assert "Phone visit. Call: (312) 555-0188" in text


def agenda(language: str | None = None) -> Draft:
    day = datetime(2026, 12, 8, tzinfo=zone("America/New_York"))
    rows = [
        visit(external_id="A1", participation="accepted"),
        visit(external_id="A2", start=START + timedelta(hours=1), visit_mode="video",
              join_url="https://vc.example.org/d/42"),
        visit(external_id="A3", start=START + timedelta(hours=2), visit_mode="phone", dial_in="+13125550188",
              timezone="America/Chicago", participation="needs-action"),
        visit(external_id="A4", start=START + timedelta(hours=3), participation="declined"),
    ]
    return Draft("agenda:csv:D01:2026-12-08", "agenda", "practitioner", language, agenda_day=day, agenda=rows,
                 doctor="Dr. Amelia Hart")


def test_agenda_rows_show_zone_mode_link_and_who_has_not_confirmed() -> None:
    rendered = composer().render(agenda(), "email", START)
    lines = [line.strip() for line in plain(rendered.text).splitlines() if line.strip()]
    assert "Your appointments on Tue, Dec 8, 2026 (times in EST; a visit in another zone shows its own), " \
           "2 not confirmed by the patient:" in lines
    assert "9:00 AM  Lucía Ramos · Follow-up · In person · Room 4 · confirmed" in lines
    at = lines.index("10:00 AM  Lucía Ramos · Follow-up · Video visit · NOT CONFIRMED")
    assert lines[at + 1] == "Join: https://vc.example.org/d/42"
    at = lines.index("10:00 AM CST  Lucía Ramos · Follow-up · Phone visit · NOT CONFIRMED")  # Chicago's own hour
    assert lines[at + 1] == "Call: (312) 555-0188"
    assert "12:00 PM  Lucía Ramos · Follow-up · In person · Room 4 · CANCELLED BY PATIENT (still booked)" in lines
    assert rendered.subject == "Your agenda for Tue, Dec 8, 2026: 4 appointments"
    assert rendered.html is not None and 'href="https://vc.example.org/d/42"' in rendered.html
    assert rendered.html.count("<strong>not confirmed</strong>") == 2


def test_the_spanish_agenda_shows_the_same() -> None:
    rendered = composer().render(agenda("es"), "email", START)
    assert "Videoconsulta" in rendered.text and "Enlace: https://vc.example.org/d/42" in rendered.text
    assert "SIN CONFIRMAR" in rendered.text and "CANCELADA POR EL PACIENTE" in rendered.text
    assert "mar, 8 dic 2026" in rendered.text


def test_notices_and_the_agenda_name_the_system_by_its_label() -> None:
    """A doctor reads the clinic's name for the system (the connector's `label:`), never the
    connector's key: "stays booked in Practice Manager"; without one, "the clinic's system"."""
    labelled = Composer(RemindersSettings(), CLINIC, Renderer(),
                        systems={"csv": "Practice Manager"}.get)
    declined = labelled.render(Draft("k", "declined", "practitioner", None, visit=visit()), "email", START)
    assert "stays booked in Practice Manager until the front desk" in plain(declined.text)
    assert declined.html is not None and "stays booked in Practice Manager" in declined.html
    assert "csv" not in plain(declined.text)
    spanish = labelled.render(Draft("k", "declined", "practitioner", "es", visit=visit()), "email", START)
    assert "sigue reservada en Practice Manager" in spanish.text
    phone = visit(visit_mode="phone")  # no number known: where it is
    text = labelled.render(Draft("k", "confirmation", "practitioner", None, visit=phone), "email", START).text
    assert "Phone visit. Call: the number is in Practice Manager" in text
    mail = labelled.render(agenda(), "email", START)
    rows = [visit(external_id="A9", visit_mode="phone")]
    bare = Draft("agenda:csv:D01:2026-12-08", "agenda", "practitioner", None,
                 agenda_day=datetime(2026, 12, 8, tzinfo=zone("America/New_York")), agenda=rows, doctor="Dr. Hart")
    assert "Call: the number is in Practice Manager" in labelled.render(bare, "email", START).text
    assert "Call: (312) 555-0188" in mail.text  # a number known is the number
    unlabelled = composer().render(Draft("k", "declined", "practitioner", None, visit=visit()), "email", START)
    assert "stays booked in the clinic's system" in plain(unlabelled.text)


def test_the_dispatchers_composer_knows_each_sources_label(tmp_path: Path) -> None:
    """Through composer_for, as the dispatcher builds it: the labelled source by its label, an
    unlabelled one as "the clinic's system" (never its connector key)."""
    (tmp_path / "drop").mkdir()
    path = tmp_path / "settings.yaml"
    path.write_text(
        "clinic: {name: Springfield Clinic, timezone: America/New_York}\n"
        f'store: {{url: "sqlite:///{tmp_path}/s.db"}}\n'
        "connectors:\n"
        f"  - {{name: pm, kind: csv, label: Practice Manager, mapping: csv_default, drop_dir: {tmp_path}/drop}}\n"
        f"  - {{name: front, kind: csv, mapping: csv_default, drop_dir: {tmp_path}/drop}}\n", encoding="utf-8")
    settings = load_settings(path)
    for connector, said in (("pm", "stays booked in Practice Manager"), ("front", "stays booked in the clinic's")):
        text = composer_for(settings, connector=connector).render(
            Draft("k", "declined", "practitioner", None, visit=visit(connector=connector)), "email", START).text
        assert said in plain(text) and "in front" not in plain(text)
