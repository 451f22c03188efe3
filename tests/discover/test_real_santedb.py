"""`discover` on the real shape of SanteDB in PostgreSQL (tests/fixtures/ehr/santedb, with its
SOURCE note; rows from tests/discover/santedb_data.py), the HL7 RIM health record server, a
product it had never met. What it has: every key a UUID; every code a concept key whose word
(the mnemonic) sits on the concept's version row in force; a visit an act whose versions carry
its class, mood, status and times (a rescheduled visit's older version kept, obsoleted); who
takes part as participation rows typed by a role concept, valid between act versions (a doctor
replaced keeps an ended row); names as typed component rows; phones as telecom rows typed by a
use concept (Toronto numbers: mobile and landline share their area codes); beside the
appointments, past encounters and the care planner's vaccine proposals ahead. Driven as the admin
would: ``discover --write`` (which runs ``check``), the one status word the product misspells
typed, then ``sync --once``, every visit ahead compared field by field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.discover import real_ehr_support as real
from tests.discover import santedb_data as santedb


@pytest.mark.postgres
def test_santedb_versioned_acts_coded_roles_component_names_and_use_typed_phones(postgres_url: str, tmp_path: Path,
                                                                                 cli: Any) -> None:
    """The version in force of each act (the rescheduled visit at its new time, once), keyed by
    the act; the appointments (not the past encounters, not the proposals that name no doctor);
    the patient the RecordTarget and the doctor the Performer still in force (not the clerk who
    booked, not a doctor replaced); each named from the Given then Family parts of the name in
    force (not a maiden name); the phone the telecom whose use is MobileContact (a home line
    entered first passed over, a mobile given up not read), else the landline; the status the
    concept's word. Before: the act versions read as visits (130 stored, 30 of them old versions
    or proposals), no patient, no doctor, no name, no phone, every status 'booked': no visit
    right on every field; `check` failed on the patient's phone and the doctor."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        truth = santedb.build(connection)
    settings = real.settings_file(tmp_path, santedb.ZONE, santedb.REGION)
    before = settings.read_text(encoding="utf-8")
    run = cli(settings)
    code, out, err = run("discover", postgres_url, "--write", expect=None)
    print(out, err, real.mapping_file(tmp_path).read_text(encoding="utf-8"))
    # the one word the product spells its own way is asked: check quarantines until it is given
    assert code == 1 and "'NULLFIIED'" in out and "-> ? (unknown" in out, (code, out)
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["external_id"] == {"from": "act_id"}, fields["external_id"]
    typed = real.words_mapped(real.mapping_file(tmp_path), {"NULLFIIED": "cancelled"})
    assert real.data.admin_lines(before, [postgres_url]) + typed <= 8  # six settings lines, the URL, one word
    code, out, _ = run("check", expect=None)
    print(out)
    assert code == 0 and "0 would be quarantined, 0 problems" in out, out
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    assert set(found) == set(truth), (len(found), len(set(found) - set(truth)), len(set(truth) - set(found)))
    scores = real.scores(found, truth)
    print("fields right of", len(truth), scores)
    assert scores == dict.fromkeys(scores, len(truth)), scores
