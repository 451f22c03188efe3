"""A waitlist source whose connector says ``stored_times: utc`` (issue 57): its naive
date-times (availability, expiry, waiting since) are UTC instants, read as the appointment
mapping reads them — not as wall clock in the clinic's zone, which put each entry hours off.
A date alone is still the clinic's day (its local midnight)."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clinicsync.mappings.waitlist import load_waitlist_mapping
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.service.pipeline import run_once
from clinicsync.sync.store.model.waitlist import WAITLIST_ENTRIES
from clinicsync.sync.store.store import Store

ZONE = "America/Chicago"
CSV = """\
    id,patient_id,email,available_from,available_until,expires,waiting_since,status
    a,p1,bo@example.org,2031-03-10 15:00,2031-03-20 18:00,2031-04-01 05:00,2030-12-01 08:30,waiting
    b,p2,bea@example.org,,2031-06-30,,,waiting
    """


def as_utc(value: datetime) -> datetime:
    """A stored instant (SQLite gives it back naive UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@pytest.mark.parametrize(("stored_times", "offset"), [("utc", 0), ("local", 5)])  # Chicago is UTC-5 in March
def test_a_csv_waitlist_reads_naive_times_in_the_sources_convention(
        stored_times: str, offset: int, drop_dir: Path, write_settings: Any, store: Store) -> None:
    settings = load_settings(write_settings(f"""
        - name: wl
          kind: csv
          mapping: csv_waitlist
          drop_dir: {drop_dir}
          mode: snapshot
          settle_seconds: 0
          stored_times: {stored_times}
        """, timezone=ZONE))
    (drop_dir / "waitlist.csv").write_text(textwrap.dedent(CSV), encoding="utf-8")
    counts = run_once(settings, store).extras["waitlist_sources"]["sources"]["wl"]
    assert (counts["created"], counts["quarantined"]) == (2, 0), counts
    with store.engine.connect() as connection:
        rows = {r.external_id: r for r in connection.execute(select(WAITLIST_ENTRIES))}
    a, b = rows["a"], rows["b"]
    assert a.timezone == ZONE  # the visit's zone is the clinic's either way
    assert json.loads(a.windows) == [{"start": f"2031-03-10T{15 + offset}:00:00Z",
                                      "end": f"2031-03-20T{18 + offset}:00:00Z"}]
    assert as_utc(a.expires_at) == datetime(2031, 4, 1, 5 + offset, tzinfo=UTC)
    assert as_utc(a.waiting_since) == datetime(2030, 12, 1, 8 + offset + (1 if offset else 0), 30, tzinfo=UTC)
    # A date alone is the clinic's day, whatever the convention: its end is the next local midnight.
    assert json.loads(b.windows) == [{"start": None, "end": "2031-07-01T05:00:00Z"}]  # CDT, UTC-5


def test_an_offset_wins_over_the_convention() -> None:
    mapping = load_waitlist_mapping("csv_waitlist", ZONE, "US", stored_times="utc")
    entry = mapping.apply({"id": "a", "patient_id": "p1", "expires": "2031-04-01T05:00-05:00"})
    assert entry.expires_at == datetime(2031, 4, 1, 10, tzinfo=UTC)
