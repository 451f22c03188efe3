"""`discover` for HL7 v2 SIU files (issue 34): which segments and fields carry values, the
events and filler status words seen, and a proposal that is the hl7v2_siu preset overridden
only where the feed differs; checked with the real `check`."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from clinicsync.sync.discover.hl7 import discover_hl7
from tests.conftest import SHARED_FIXTURES
from tests.discover.files_support import check_proposal

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RENALWARE = FIXTURES / "hl7_siu"
SHARED_HL7 = SHARED_FIXTURES / "hl7"


def _settled_copy(source: Path, folder: Path, names: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.hl7")):
        if names is None or path.name in names:
            shutil.copy(path, folder / path.name)
            os.utime(folder / path.name, (time.time() - 60, time.time() - 60))
    return folder


def test_renalware_feed_maps_its_site_status_word_and_names_what_it_carries(tmp_path: Path) -> None:
    # Renalware's two messages alone: the folder also holds other senders' samples.
    feed = _settled_copy(RENALWARE, tmp_path / "siu", ["renalware_blt_siu_s12.hl7", "renalware_blt_siu_s13.hl7"])

    proposal = discover_hl7(str(feed), timezone="Europe/London")

    assert proposal.kind == "hl7v2" and proposal.name == "siu"
    assert proposal.connector == {"name": "siu", "kind": "hl7v2", "drop_dir": str(feed.resolve()),
                                  "timezone": "Europe/London"}  # times carry no offset: the zone is needed
    # SCH-25 "Confirmed" is outside HL7 table 0278 but a known word: the one override.
    assert [(w.value, w.status, w.count) for w in proposal.status_words] == [("Confirmed", "booked", 2)]
    assert proposal.mapping is not None and list(proposal.mapping["fields"]) == ["status"]
    assert proposal.mapping["extends"] == "hl7v2_siu"
    status_map = proposal.mapping["fields"]["status"]["map"]
    assert status_map["Confirmed"] == "booked" and status_map["S15"] == "cancelled"  # the preset's map kept
    placed = {g.field: g.source for g in proposal.guesses}
    assert placed["external_id"] == "SCH.1.1"  # no filler id (SCH-2) in this feed: the placer's
    assert placed["start"] == "SCH.11.4"  # v2.4: SCH-11 timing, no TQ1
    assert placed["practitioner.name"] == "AIG[0].3.1"  # no AIP: the general resource
    assert placed["patient.email"] == "PID.13[2=EMAIL].1"
    assert all(0 < g.confidence <= 1 for g in proposal.guesses)
    assert proposal.unplaced == ["SCH-6", "PV1-3", "PV1-8"]  # carried, read by nothing: listed
    inventory = next(n for n in proposal.notes if n.startswith("read 2 SIU"))
    assert "events S12 x1, S13 x1" in inventory and "AIG in 2/2" in inventory and "TQ1" not in inventory
    assert "the proposed mapping maps 2 of 2 message(s)" in proposal.notes

    result = check_proposal(proposal, tmp_path, "Europe/London", "GB")
    assert result.problems == [] and result.ok, (result.problems, result.findings)
    assert result.sampled == 2 and result.mapped == 2 and result.quarantined_count == 0


def test_a_feed_without_ail_gets_its_location_from_pv1(tmp_path: Path) -> None:
    """The same Barts message without its AIL segment (derived here): the preset's location
    paths find nothing, PV1-3 carries the clinic, so it becomes the location's fallback."""
    feed = tmp_path / "noail"
    feed.mkdir()
    text = (RENALWARE / "renalware_blt_siu_s12.hl7").read_bytes()
    segments = [s for s in text.replace(b"\n", b"\r").split(b"\r") if s and not s.startswith(b"AIL|")]
    (feed / "s12.hl7").write_bytes(b"\r".join(segments) + b"\r")
    os.utime(feed / "s12.hl7", (time.time() - 60, time.time() - 60))

    proposal = discover_hl7(feed, timezone="Europe/London")

    assert proposal.mapping is not None
    location = proposal.mapping["fields"]["location"]
    assert location["concat"] == ["AIL[0].3.1", "AIL[0].3.2", "AIL[0].3.4"]  # the preset's paths kept
    assert location["fallback"] == {"from": "PV1.3.1"}
    guess = next(g for g in proposal.guesses if g.field == "location")
    assert guess.source == "PV1.3.1" and guess.confidence < 0.9
    result = check_proposal(proposal, tmp_path, "Europe/London", "GB")
    assert result.ok and result.quarantined_count == 0
    assert result.locations == {"RNJ Renal OPD": 1}


@pytest.mark.skipif(not SHARED_HL7.is_dir(), reason="third-party HL7 samples absent")
def test_third_party_samples_need_no_override(tmp_path: Path) -> None:
    feed = _settled_copy(SHARED_HL7, tmp_path / "feed")

    proposal = discover_hl7(feed)

    assert proposal.mapping_preset == "hl7v2_siu" and proposal.mapping is None
    assert {(w.value, w.status) for w in proposal.status_words} == {
        ("Booked", "booked"), ("Cancelled", "cancelled"), ("Noshow", "noshow")}
    assert "PID-14" in proposal.unplaced  # a business phone nobody reads: listed, not guessed
    # One v2.3 message (HAPI's ORSOS sample) has local times: the zone is asked for, not guessed.
    assert any("carry no UTC offset" in n for n in proposal.notes)
    assert "timezone" not in proposal.connector
    assert "the proposed mapping maps 12 of 12 message(s)" in proposal.notes


def test_a_folder_without_messages_is_refused(tmp_path: Path) -> None:
    (tmp_path / "README.txt").write_text("not a message", encoding="utf-8")
    with pytest.raises(ValueError, match=r"no \.hl7 file"):
        discover_hl7(tmp_path)
