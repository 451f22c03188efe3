"""The demo sample is realistic, deterministic, and refreshes around a date."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from clinicsync.sync.cli.demo import COLUMNS, generate_rows, write_csv
from tests.conftest import ROOT


def test_sample_spans_a_fortnight_of_several_doctors_with_bad_rows() -> None:
    anchor = date(2027, 1, 4)
    rows = generate_rows(anchor)
    assert rows == generate_rows(anchor)  # deterministic
    good = rows[:-6]
    assert len(good) >= 200
    assert len(Counter(r["doctor_id"] for r in good)) >= 5
    days = {r["start"][:10] for r in good}
    assert min(days) == anchor.isoformat() and max(days) <= (anchor + timedelta(days=13)).isoformat()
    assert {r["appointment_id"] for r in rows[-6:]} >= {"BAD-DATE", "BAD-PATIENT", "BAD-DST"}


def test_the_written_sample_has_the_csv_default_columns(tmp_path: Path) -> None:
    write_csv(generate_rows(date(2027, 1, 4)), tmp_path / "appointments.csv")
    with (tmp_path / "appointments.csv").open(encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == COLUMNS


def test_the_generated_sample_is_never_tracked() -> None:
    """`demo reset` writes examples/drop/appointments.csv: the README's first command must
    leave a clone's `git status` clean."""
    ignored = [line.strip() for line in (ROOT / ".gitignore").read_text().splitlines()]
    assert "examples/drop/*.csv" in ignored


def test_demo_reset_regenerates_around_a_date_and_clears_the_store(tmp_path: Path, cli: Any) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text((ROOT / "settings.yaml").read_text().replace("drop_dir: examples/drop",
                                                                   f"drop_dir: {tmp_path / 'drop'}"))
    run = cli(config)
    run("demo", "reset", "--date", "2030-02-01")
    run("sync", "--once")
    assert (tmp_path / ".clinicsync" / "clinicsync.db").exists()
    run("demo", "reset")
    assert not (tmp_path / ".clinicsync" / "clinicsync.db").exists()
    with (tmp_path / "drop" / "appointments.csv").open() as handle:
        first: dict[str, Any] = next(csv.DictReader(handle))
    # The clinic's tomorrow (settings.yaml: New York), not the UTC host's: at 9 pm there the
    # host is already on the next day.
    # The sample's clinic is closed on Sundays: run on a Saturday, it starts on Monday.
    clinic_tomorrow = datetime.now(ZoneInfo("America/New_York")).date() + timedelta(days=1)
    first_open = clinic_tomorrow + timedelta(days=1 if clinic_tomorrow.weekday() == 6 else 0)
    assert datetime.fromisoformat(first["start"]).date() == first_open
