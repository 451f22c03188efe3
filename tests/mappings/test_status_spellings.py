"""Status words as real products spell them: FHIR's own words with underscores, run together or
in other case (GNU Health's `checked_in`/`no_show`, Bahmni's `CheckedIn`, `entered_in_error`),
read by the mapping engine without a status_map entry; the synonyms discover proposes read
through any separator; and `rescheduled`, whose meaning depends on which row a product writes
it on, is no synonym of booked: discover leaves it unmapped and says why."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clinicsync.common.vocabulary import STATUS_SYNONYMS, status_key
from clinicsync.mappings.engine import load_mapping
from clinicsync.sync.discover.csv import discover_csv
from clinicsync.sync.discover.statuses import status_word

MAPPING = load_mapping("csv_default", "America/New_York", "US")


def _record(status: str) -> dict[str, str]:
    return {"appointment_id": "A1", "start": "2030-03-12T10:00:00", "end": "2030-03-12T10:30:00",
            "status": status, "patient_id": "P1", "patient_phone": "+12125550123"}


@pytest.mark.parametrize(("word", "status"), [
    ("entered_in_error", "entered-in-error"), ("Entered_In_Error", "entered-in-error"),
    ("EnteredInError", "entered-in-error"), ("entered in error", "entered-in-error"),
    ("checked_in", "checked-in"), ("CheckedIn", "checked-in"), ("no_show", "noshow"), ("No-Show", "noshow"),
    ("arrived", "arrived"), ("Fulfilled", "fulfilled"),
])
def test_the_engine_reads_fhir_words_in_product_spellings(word: str, status: str) -> None:
    assert MAPPING.apply(_record(word)).status == status
    assert MAPPING.apply_interpreted(_record(word)).status == status


def test_a_word_that_is_no_fhir_spelling_is_still_refused() -> None:
    with pytest.raises(Exception, match="unknown status word"):
        MAPPING.apply(_record("in_consultation"))  # a synonym: discover maps it, the engine does not guess


@pytest.mark.parametrize(("word", "status"), [
    ("entered_in_error", "entered-in-error"), ("entered.in.error", None), ("in_consultation", "arrived"),
    ("in-consultation", "arrived"), ("InConsultation", "arrived"), ("checked_in", "checked-in"),
    ("no_show", "noshow"), ("did_not_attend", "noshow"), ("user_cancelled", "cancelled"),
    ("center_cancelled", "cancelled"), ("Missed", "noshow"), ("Completed", "fulfilled"), ("done", "fulfilled"),
    ("arrived", "arrived"), ("fulfilled", "fulfilled"),
    ("Assessed", "arrived"), ("triaged", "arrived"),  # Tamanu: assessed at triage, waiting to be seen
    ("visited", "fulfilled"), ("Visited", "fulfilled"),  # a public-health follow-up the patient came to
])
def test_discover_reads_product_family_spellings(word: str, status: str | None) -> None:
    assert status_word(word)[0] == status


@pytest.mark.parametrize(("word", "status"), [
    ("erschienen", "arrived"), ("pris", "booked"), ("non honoré", "noshow"), ("Non_Honore", "noshow"),
    ("vu", "fulfilled"), ("Broken", "noshow"), ("Asistió", "fulfilled"), ("compareceu", "fulfilled"),
    ("terjadwal", "booked"), ("batal", "cancelled"), ("selesai", "fulfilled"), ("tidak hadir", "noshow"),
    ("iptal", "cancelled"), ("tamamland\u0131", "fulfilled"), ("gelmedi", "noshow"), ("beklemede", "pending"),
    ("zaplanowana", "booked"), ("odwołana", "cancelled"), ("zrealizowana", "fulfilled"), ("nieobecność", "noshow"),
])
def test_discover_reads_the_words_of_clinics_in_more_languages(word: str, status: str) -> None:
    """A diary's words in German, French, Spanish, Portuguese, Indonesian, Turkish and Polish (and a
    dental practice's 'Broken'): each asked of the admin before, mapped now."""
    assert status_word(word)[0] == status


@pytest.mark.parametrize("word", ["rescheduled", "Rescheduled", "RESCHEDULED", "re-scheduled", "moved"])
def test_rescheduled_is_no_synonym_of_booked(word: str) -> None:
    assert STATUS_SYNONYMS.get(status_key(word)) is None
    assert status_word(word) == (None, 0.0)


def test_discover_asks_about_rescheduled_rather_than_guessing(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    rows = ["id,start,end,status,patient_id,phone"]
    words = ["scheduled", "rescheduled", "cancelled", "checked_in", "entered_in_error"]
    for n in range(40):
        day = datetime(2030, 3, 1 + n % 28, 9 + n % 8, tzinfo=UTC)
        rows.append(f"{n + 1},{day:%Y-%m-%d %H:%M},{day.replace(minute=30):%Y-%m-%d %H:%M},{words[n % 5]},"
                    f"P{n},+1212555{1000 + n:04d}")
    export = drop / "visits.csv"
    export.write_text("\n".join(rows) + "\n", encoding="utf-8")
    os.utime(export, (time.time() - 60, time.time() - 60))

    proposal = discover_csv(export, timezone="America/New_York")

    meaning = {w.value: w.status for w in proposal.status_words}
    assert meaning == {"scheduled": "booked", "rescheduled": None, "cancelled": "cancelled",
                       "checked_in": "checked-in", "entered_in_error": "entered-in-error"}
    assert proposal.mapping is not None and "rescheduled" not in proposal.mapping.get("status_map", {})
    asked = [n for n in proposal.notes if "'rescheduled' left unmapped" in n]
    assert len(asked) == 1 and "one moved visit" in asked[0] and "booked" in asked[0]
