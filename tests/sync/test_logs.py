"""No patient data and no secret reaches a log at default level."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog

from clinicsync.common.logs import REDACTED, configure_logging, redact, scrub_text
from clinicsync.sync.cli.demo import generate_rows
from tests.connectors.test_csv_drop import TOMORROW, write_drop


@pytest.mark.parametrize(("text", "leak"), [
    ("failed for ana.lopez@mail.example.com", "ana.lopez@mail.example.com"),
    ("sms to +1 (212) 555-0123 refused", "555-0123"),
    ("sms to +12125550123 refused", "+12125550123"),
    ("Authorization: Bearer eyJhbGciOi.xyz", "eyJhbGciOi.xyz"),
    # join links (issue 22): the room and its passcode, wherever the link sits in a message
    ("join https://zoom.example.org/j/81234567890?pwd=Q2xp now", "81234567890"),
    ("join https://zoom.example.org/j/81234567890?pwd=Q2xp now", "Q2xp"),
    ("link https://telehealth.example.org/visit/join?room=7Q2XK&tk=pt-4f9c1e.", "7Q2XK"),
    ("https://teams.example.org/l/meetup-join/19%3ameeting_Y2xp%40thread.v2/0", "meeting_Y2xp"),
    ("callback https://api.example.org/hook?token=s3cr3t&b=1", "s3cr3t"),
])
def test_free_text_is_scrubbed(text: str, leak: str) -> None:
    assert leak not in scrub_text(text)


def test_ids_dates_and_counts_survive_scrubbing() -> None:
    text = "connector demo-csv run 3f2a created=288 at 2026-11-23T09:00:00Z file appointments.csv:12"
    assert scrub_text(text) == text


def test_an_ordinary_url_keeps_its_path_and_query() -> None:
    text = "GET https://ehr.example.org/fhir/Appointment?date=ge2026-01-01&_count=50 answered 503"
    assert scrub_text(text) == text


def test_join_links_under_their_own_keys_are_redacted() -> None:
    event = redact(None, "info", {"event": "x", "join_url": "https://vc.example.org/a", "dial_in": "+13125550100",
                                  "detail": {"provider_join_url": "https://vc.example.org/b"}})
    assert event["join_url"] == event["dial_in"] == event["detail"]["provider_join_url"] == REDACTED


def test_sensitive_keys_are_redacted_wherever_they_are() -> None:
    event = redact(None, "info", {"event": "x", "patient_name": "Ana", "phone": "+12125550123",
                                  "detail": {"email": "a@b.example", "count": 3}, "password": "hunter2"})
    assert event["patient_name"] == event["phone"] == event["password"] == REDACTED
    assert event["detail"] == {"email": REDACTED, "count": 3}


def test_a_whole_sync_logs_no_patient_data(write_settings: Callable[..., Path], drop_dir: Path, cli: Any) -> None:
    data = generate_rows(TOMORROW, days=2)
    write_drop(drop_dir, "a.csv", data)
    config = write_settings(f"- name: clinic\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop_dir}\n")
    stream = io.StringIO()
    _, _, sync_log = cli(config)("--log-format", "json", "--log-level", "debug", "sync", "--once")
    assert "connector.synced" in sync_log
    configure_logging("info", "json", stream)
    log = structlog.get_logger("test")
    # What a careless call site might do: the processor still protects the patient.
    log.warning("send.failed", patient_name=data[0]["patient_name"], to=data[0]["patient_email"],
                detail=f"number {data[0]['patient_phone']} refused")
    logged = stream.getvalue() + sync_log
    assert "send.failed" in logged
    for row in data:
        for key in ("patient_name", "patient_email"):
            assert row[key] not in logged
    assert data[0]["patient_phone"] not in logged
    assert json.loads(stream.getvalue().splitlines()[-1])["to"] == REDACTED


@pytest.mark.parametrize("address", ["127.0.0.1", "10.20.30.40", "192.168.100.200", "::1", "2001:db8::17"])
def test_ip_addresses_are_not_mistaken_for_phone_numbers(address: str) -> None:
    """`mllp.refused peer [redacted]` told IT nothing; an address is not patient data."""
    event = redact(None, "warning", {"event": "mllp.refused", "peer": address, "detail": f"from {address}:2575"})
    assert event["peer"] == address and event["detail"] == f"from {address}:2575"


@pytest.mark.parametrize("phone", ["212.555.0123", "+1.212.555.0123", "0151 2345 6789", "212 555 01 23"])
def test_phones_written_with_dots_or_spaces_are_still_scrubbed(phone: str) -> None:
    assert phone not in scrub_text(f"sms to {phone} refused")


@pytest.mark.parametrize(("configured", "emitted"), [
    (None, {10, 20, 30, 40}), (logging.INFO, {20, 30, 40}), (logging.WARNING, {30, 40})])
def test_emits_answers_as_the_filtering_wrapper_drops(configured: int | None, emitted: set[int]) -> None:
    """emits(level) is False exactly where structlog's level filter would drop the event, and
    True under a wrapper class that does not filter by level (the event is built, as before)."""
    from clinicsync.common.logs import emits

    try:
        structlog.reset_defaults()  # structlog's own default: a filter at NOTSET
        if configured is not None:
            structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(configured))
        assert {level for level in (10, 20, 30, 40) if emits(level)} == emitted
        structlog.configure(wrapper_class=structlog.stdlib.BoundLogger)
        assert emits(logging.DEBUG)
    finally:
        structlog.reset_defaults()
