"""What the dispatcher crash and scale tests share: a PostgreSQL store holding N due
reminders (one confirmation per appointment, each patient with a phone of their own, so
a recipient at the fake provider stands for exactly one reminder key), settings that
send them through Twilio's official client, and a view of the reminders as the
invariants see them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.db import make_engine, upgrade
from clinicsync.sync.store.store import Store
from tests.reliability.harness import Probe
from tests.sync.reminders.conftest import appointment, put

TERMINAL = frozenset({"sent", "failed", "skipped", "cancelled", "unknown"})
SENDING = ("SELECT r.key, p.phone, r.status, r.send_started_at IS NOT NULL AS handed_over, r.lease_until "
           "FROM reminder r JOIN appointment a ON a.id = r.appointment_id "
           "JOIN patient p ON p.connector = a.connector AND p.external_id = a.patient_ref")


def phone(n: int) -> str:
    """A distinct, valid NANP number per patient (212-555-0000, …, then 213-555-…)."""
    return f"+1{212 + n // 10_000}555{n % 10_000:04d}"


def reminder_settings(folder: Path, store_url: str, notifier: dict[str, Any], **reminders: Any) -> Path:
    """Confirmations only, by SMS, no quiet hours: every planned reminder is due at once."""
    path = folder / "settings.yaml"
    path.write_text(yaml.safe_dump({
        "clinic": {"timezone": "America/New_York", "default_region": "US"},
        "store": {"url": store_url},
        "logging": {"level": "warning", "format": "json"},
        "notifiers": [notifier],
        "reminders": {"quiet_hours": None, "agenda": {"enabled": False}, "offsets": [], "channels": ["sms"],
                      "routes": {"sms": notifier["name"]}, **reminders},
    }), encoding="utf-8")
    return path


def plan_reminders(config: Path, count: int, chunk: int = 2000) -> datetime:
    """Store ``count`` appointments two weeks ahead and plan their confirmations, due now
    (so `remind --once` and `run`, which both use the real clock, send them)."""
    settings = load_settings(config)
    engine = make_engine(settings.store.url)
    upgrade(engine)
    store = Store(engine)
    now = datetime.now(UTC)
    start = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=14)
    try:
        for first in range(0, count, chunk):
            put(store, *(appointment(f"A{n}", start + timedelta(minutes=n), patient=f"P{n}", phone=phone(n))
                         for n in range(first, min(count, first + chunk))))
        assert plan(settings, store, now).planned == count
    finally:
        store.close()
    return now


@dataclass(frozen=True)
class Row:
    key: str
    phone: str
    status: str
    handed_over: bool  # the row was marked just before the notifier was called
    lease_until: datetime | None


def reminders(probe: Probe) -> list[Row]:
    return [Row(*r) for r in probe.rows(SENDING)]


def assert_never_twice(rows: list[Row], accepted: Counter[str]) -> None:
    """The invariants at any moment, even right after a kill -9: the provider took each
    reminder at most once; a `sent` row was taken exactly once; a row the provider has
    taken is `sent`, `unknown`, or still claimed past its hand-over (never back to
    `pending`, which would send it again); nobody outside the plan got a message."""
    by_phone = {r.phone: r for r in rows}
    assert set(accepted) <= set(by_phone), "the provider got a message for no planned reminder"
    twice = {p: n for p, n in accepted.items() if n > 1}
    assert not twice, f"{len(twice)} reminder(s) sent more than once"
    for row in rows:
        taken = accepted[row.phone]
        if row.status == "sent":
            assert taken == 1, f"{row.key} is `sent` but the provider never got it"
        if taken:
            assert row.status in ("sent", "unknown") or (row.status == "sending" and row.handed_over), (
                f"{row.key} reached the provider but is `{row.status}` (handed over: {row.handed_over})")
