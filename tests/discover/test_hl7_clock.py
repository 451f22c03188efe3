"""`discover` on SIU files tells how the sender writes times without an offset (sync/discover/
hl7_clock.py) apart from the visits' zone: a feed written in UTC by an interface engine, read
by HL7's rule as Chicago's wall clock, would store every visit six hours late and tell every
patient the wrong time, and `check` would then fail it on its night visits. Each kind of
evidence alone, their conflict, their absence, and the admin's word."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clinicsync.sync.discover.clock import ClockUnclear
from clinicsync.sync.discover.hl7 import discover_hl7
from tests.connectors.hl7v2_support import siu
from tests.discover.files_support import check_proposal

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime.now(UTC).replace(microsecond=0)
# Chicago's offset now (the messages are sent now): -0600 in winter, -0500 in summer.
NOW_OFFSET = NOW.astimezone(CHICAGO).strftime("%z")
NOW_HOURS = f"{-NOW.astimezone(CHICAGO).utcoffset().total_seconds() / 3600:.1f} h"  # type: ignore[union-attr]
# A clinic day in Chicago: 40 visits from 09:00 to 17:45, over the next days.
DAY = [datetime(2030, 3, 4 + n // 20, 9, 0, tzinfo=CHICAGO) + timedelta(minutes=15 * (n % 20) * 1.85)
       for n in range(40)]
MIDDAY = [datetime(2030, 3, 4 + n // 20, 11, 0, tzinfo=CHICAGO) + timedelta(minutes=9 * (n % 20))
          for n in range(40)]  # 11:00-13:51: in the day read either way


def _ts(moment: datetime, *, utc: bool) -> str:
    return (moment.astimezone(UTC) if utc else moment.astimezone(CHICAGO)).strftime("%Y%m%d%H%M%S")


def _feed(folder: Path, visits: list[datetime], *, utc: bool, copied_later: bool = False, offset: str = "") -> Path:
    """One batch file of S12s for 15 patients, the appointments' and messages' times written in
    UTC or in Chicago's wall clock (``offset`` appended to MSH-7 only); the messages sent 3
    minutes before the file was written, or the file copied a week after (its time says nothing)."""
    folder.mkdir(parents=True, exist_ok=True)
    sent = NOW - timedelta(minutes=4)
    written = NOW + timedelta(days=7) if copied_later else NOW - timedelta(minutes=1)
    messages = [siu("S12", f"M{n}", _ts(sent, utc=utc) + offset, appointment=f"A{n}", start=_ts(start, utc=utc),
                    patient=f"P{n % 15}") for n, start in enumerate(visits)]
    path = folder / "batch.hl7"
    path.write_text("".join(messages), encoding="utf-8")
    os.utime(path, (written.timestamp(), written.timestamp()))
    return folder


def test_a_sender_writing_utc_is_told_by_its_message_times_and_visit_hours(tmp_path: Path) -> None:
    proposal = discover_hl7(_feed(tmp_path / "siu", DAY, utc=True), timezone="America/Chicago")
    assert proposal.connector["stored_times"] == "utc" and proposal.connector["timezone"] == "America/Chicago"
    why = proposal.connector_notes["stored_times"]
    assert "the sender writes UTC without an offset" in why
    assert f"would lie {NOW_HOURS} in the future read as local time in America/Chicago" in why  # MSH-7 vs the file
    assert "fall at night (22:00-05:59) read as local time" in why  # the visit hours
    assert "the proposed mapping maps 40 of 40 message(s)" in proposal.notes
    result = check_proposal(proposal, tmp_path, "America/Chicago", "US")
    assert result.problems == [] and result.ok, (result.problems, result.findings)


def test_the_same_feed_read_by_hls_rule_fails_check_on_its_night_visits(tmp_path: Path) -> None:
    """What the evidence prevents: given local (the admin's word wins), `check` fails it."""
    proposal = discover_hl7(_feed(tmp_path / "siu", DAY, utc=True), timezone="America/Chicago",
                            stored_times="local")
    assert proposal.connector["stored_times"] == "local"
    assert proposal.connector_notes["stored_times"] == "given with --stored-times"
    result = check_proposal(proposal, tmp_path, "America/Chicago", "US")
    assert not result.ok and result.implausible >= 1
    assert any("stored_times: utc" in f.message for f in result.plausibility.errors)  # type: ignore[union-attr]


def test_a_sender_writing_local_time_keeps_the_default(tmp_path: Path) -> None:
    proposal = discover_hl7(_feed(tmp_path / "siu", DAY, utc=False), timezone="America/Chicago")
    assert "stored_times" not in proposal.connector
    note = next(n for n in proposal.notes if n.startswith("stored_times: local (the default)"))
    assert "the sender writes local time" in note and "before the file's write time read as local time" in note
    result = check_proposal(proposal, tmp_path, "America/Chicago", "US")
    assert result.problems == [] and result.ok, (result.problems, result.findings)


def test_an_msh7_offset_of_utc_alone_says_utc(tmp_path: Path) -> None:
    """Midday visits (in the day either way) in a file copied a week later: only MSH-7's +0000."""
    feed = _feed(tmp_path / "siu", MIDDAY, utc=True, copied_later=True, offset="+0000")
    proposal = discover_hl7(feed, clinic_zone="America/Chicago")  # the settings file's zone
    assert proposal.connector["stored_times"] == "utc" and "timezone" not in proposal.connector
    assert proposal.connector_notes["stored_times"] == (
        "the sender writes UTC without an offset: 40 message time(s) (MSH-7) carry +0000, not America/Chicago's "
        "offset: the sender's clock keeps UTC")


def test_conflicting_evidence_asks_for_the_flag(tmp_path: Path) -> None:
    """MSH-7 says Chicago's offset, yet the visit hours read as local fall at night."""
    feed = _feed(tmp_path / "siu", DAY, utc=True, copied_later=True, offset=NOW_OFFSET)
    with pytest.raises(ClockUnclear) as raised:
        discover_hl7(feed, timezone="America/Chicago")
    message = str(raised.value)
    assert message.startswith("cannot tell whether the sender writes its times in UTC or in local time: ")
    assert "fall at night" in message and "carry America/Chicago's own offset" in message
    assert message.endswith("Give --stored-times utc|local")


def test_no_evidence_keeps_hl7s_rule_and_names_the_flag(tmp_path: Path) -> None:
    feed = _feed(tmp_path / "siu", MIDDAY, utc=True, copied_later=True)
    proposal = discover_hl7(feed, timezone="America/Chicago")
    assert "stored_times" not in proposal.connector
    assert ("stored_times: local (the default): HL7 reads a time without an offset as the sender's local time, "
            "and nothing in the feed said otherwise (if the sender writes UTC, give --stored-times utc)") \
        in proposal.notes


def test_times_with_their_own_offset_need_no_convention(tmp_path: Path) -> None:
    folder = tmp_path / "siu"
    folder.mkdir()
    (folder / "batch.hl7").write_text("".join(
        siu("S12", f"M{n}", "20300301090000", appointment=f"A{n}", start=start.strftime("%Y%m%d%H%M%S%z"))
        for n, start in enumerate(DAY)), encoding="utf-8")
    proposal = discover_hl7(folder, timezone="America/Chicago")
    assert "stored_times" not in proposal.connector
    assert not any("stored_times" in n for n in proposal.notes)


def test_the_cli_reads_the_clinics_zone_and_shows_the_convention_before_write(tmp_path: Path, cli: Any) -> None:
    """As an admin runs it: no --timezone, the settings file's clinic zone; the decision and its
    reasons on screen without --write (before, the connector's settings showed only with it)."""
    feed = _feed(tmp_path / "siu", DAY, utc=True)
    settings = tmp_path / "settings.yaml"
    settings.write_text("clinic: {timezone: America/Chicago}\nconnectors: []\n")
    _, out, _ = cli(settings)("discover", str(feed))
    line = next(n for n in out.splitlines() if n.startswith("  stored_times: "))
    assert line.startswith("  stored_times: utc  (the sender writes UTC without an offset: ")
    assert "nothing written" in out
    _, given, _ = cli(settings)("discover", str(feed), "--stored-times", "local")
    assert "  stored_times: local  (given with --stored-times)" in given
