"""What patients read in the shipped templates: every SMS in one GSM-7 segment with the
STOP line, a reply asked for only when one can be received, readable plain-text email (one
link per line, sentences start uppercase) and the place (address, map, how to join)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clinicsync.sync.clinic import ClinicSettings, Place
from clinicsync.sync.reminders.compose import Composer, Draft, Visit
from clinicsync.sync.reminders.render import Renderer
from clinicsync.sync.settings.reminders import RemindersSettings

START = datetime(2026, 11, 23, 19, 15, tzinfo=UTC)
CLINIC = ClinicSettings(name="Demo Family Practice", timezone="America/New_York", phone="+1 212 555 0100",
                        address="1 Main Street, Springfield",
                        places={"Main Street Clinic": Place(address="12 Main Street, Springfield NY 10001"),
                                "Video": Place(instructions="The join link arrives by email 15 minutes before.")})
KINDS = ("confirmation", "reminder", "rescheduled", "cancelled", "confirmed", "followup")
TELLING = ("cancelled", "confirmed", "followup")  # notices that ask for no answer


def visit(location: str = "Main Street Clinic") -> Visit:
    return Visit("c1", "A1", START, START.replace(minute=45), "America/New_York", 3, "Follow-up", location,
                 "Dr. Priya Natarajan", "Alexandra Kowalski")


def render(kind: str, channel: str, language: str, replies: bool = True, location: str = "Main Street Clinic",
           **config: Any) -> Any:
    composer = Composer(RemindersSettings(**config), CLINIC, Renderer(), replies=replies)
    return composer.render(Draft(f"a1:patient:{kind}:v3", kind, "patient", language, visit=visit(location)),
                           channel, START)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_templates_check_counts_one_gsm7_segment_for_every_shipped_sms(tmp_path: Path, store_url: str,
                                                                        cli: Any) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text(
        "clinic:\n  name: Demo Family Practice\n  timezone: America/New_York\n  phone: '+1 212 555 0100'\n"
        f"store:\n  url: \"{store_url}\"\n"
        "server:\n  public_url: https://clinic.example.org\n  secret_key: test-only\n", encoding="utf-8")
    _, out, _ = cli(config)("templates", "check", "--json")
    sms = [r for r in json.loads(out) if r["channel"] == "sms"]
    assert {(r["language"], r["template"]) for r in sms} == {(lang, k) for lang in ("en", "es") for k in KINDS}
    assert all((r["segments"], r["encoding"]) == (1, "GSM-7") and r["units"] <= 160 for r in sms), sms
    _, table, _ = cli(config)("templates", "check")
    assert "1 (GSM-7," in table and "chars)" in table


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_sms_carries_the_stop_line_and_asks_for_a_reply_only_when_one_can_arrive(language: str) -> None:
    stop = {"en": "Reply STOP to opt out.", "es": "STOP para darse de baja."}[language]
    ask = {"en": "Reply C to confirm, X to cancel.", "es": "Responda C (confirmar) o X (anular)."}[language]
    for kind in KINDS:
        with_replies, without = render(kind, "sms", language), render(kind, "sms", language, replies=False)
        assert with_replies.text.endswith(stop) and without.text.endswith(stop), kind
        assert (ask in with_replies.text) == (kind not in TELLING) and ask not in without.text, kind
        assert "  " not in without.text and with_replies.segments == 1, with_replies.text
    assert "STOP" not in render("reminder", "whatsapp", "en").text  # WhatsApp has its own opt-out


@pytest.mark.parametrize("language", ["en", "es"])
def test_plain_text_email_reads_as_sentences_with_one_link_per_line(language: str) -> None:
    links = {"confirm_url": "https://c.example/r/{key}/yes", "decline_url": "https://c.example/r/{key}/no"}
    for kind in KINDS:
        text = render(kind, "email", language, **links).text
        for paragraph in text.split("\n\n"):
            first = paragraph.lstrip()[0]
            assert not first.isalpha() or first.isupper(), (kind, paragraph)
        for line in text.splitlines():
            assert len(re.findall(r"https?://", line)) <= 1, (kind, line)


def test_the_place_address_map_and_video_instructions() -> None:
    email = render("confirmation", "email", "en")
    assert "  Where:  Main Street Clinic, 12 Main Street, Springfield NY 10001\n" in email.text
    assert "  Map:    https://www.openstreetmap.org/search?query=12+Main+Street%2C+Springfield+NY+10001" in email.text
    assert "Demo Family Practice · (212) 555-0100\n1 Main Street, Springfield" in email.text
    assert 'href="https://www.openstreetmap.org/search?query=12+Main+Street' in email.html
    assert "Open in a map" in email.html
    video = render("reminder", "email", "es", location="Video")
    assert "Cómo conectarse: The join link arrives by email 15 minutes before." in video.text
    assert "Mapa:" not in video.text
    assert render("cancelled", "email", "es").text.endswith("\n\nDemo Family Practice\n1 Main Street, Springfield")
    cancelled = render("cancelled", "sms", "en")
    assert "To rebook call (212) 555-0100." in cancelled.text
