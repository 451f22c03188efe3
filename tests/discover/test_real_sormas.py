"""`discover` on the real shape of SORMAS in PostgreSQL (tests/fixtures/ehr/sormas, with its
SOURCE note; rows from tests/discover/sormas_data.py), the public-health surveillance system, a
product it had never met. What it has: 201 tables (each versioned entity with its ``_history``
twin), a ``visit`` per follow-up call of a ``person`` (``visitdatetime`` in the server's zone,
``visitstatus`` COOPERATIVE/UNCOOPERATIVE/UNAVAILABLE, ``visituser_id`` the officer), an audit
reference ``change_user_id`` on every table (left empty here), the person's phone and email as
``personcontactdetail`` rows typed PHONE/EMAIL with a second type column (MOBILE/LANDLINE) for
phones only, on a table whose ``id`` is no declared primary key; the officer's email in the
users row's ``useremail``. Driven as the admin would:
``discover --write`` (which runs ``check``), the three status words typed, then ``sync --once``,
every visit the store holds compared with the truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.discover import real_ehr_support as real
from tests.discover import sormas_data as sormas


@pytest.mark.postgres
def test_sormas_person_visits_typed_contact_details_and_an_audit_user(postgres_url: str, tmp_path: Path,
                                                                      cli: Any) -> None:
    """The patient the visit's person (not the user who last saved it), the phone and email of
    the person's typed detail rows, the officer who made the call its practitioner, the start in
    the server's local time; the three status words of the product asked, typed by the admin."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        truth = sormas.build(connection)
    settings = real.settings_file(tmp_path, sormas.ZONE, sormas.REGION)
    before = settings.read_text(encoding="utf-8")
    run = cli(settings)
    code, out, err = run("discover", postgres_url, "--write", expect=None)
    print(out, err, real.mapping_file(tmp_path).read_text(encoding="utf-8"))
    # its status words are the product's own: asked, and check quarantines until they are given
    assert code == 1 and "'COOPERATIVE'        -> ? (unknown" in out, (code, out)
    assert "stored_times: local (the default): the database keeps local time" in out, out
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["patient.external_id"] == {"from": "person_id"}, fields["patient.external_id"]
    assert fields["practitioner.email"] == {"from": "doctor_useremail"}, fields.get("practitioner.email")
    typed = real.words_mapped(real.mapping_file(tmp_path), sormas.STATUS)
    assert real.data.admin_lines(before, [postgres_url]) + typed <= real.ADMIN_LIMIT
    code, out, _ = run("check", expect=None)
    print(out)
    # the visits are the calls made, all past: nobody can be reminded, and check says so
    assert code == 1 and "0 would be quarantined, 1 problem" in out and "a sync would store starts after now" in out
    _, _, _ = run("sync", "--once", "--json")
    found = real.data.stored(run)
    # the visits are the calls made (all past): the store reads the latest, the last hour's among them
    assert set(found) <= set(truth) and len(found) >= 3, sorted(found)
    scores = real.scores(found, {k: truth[k] for k in found})
    print("fields right of", len(found), scores)
    assert scores == dict.fromkeys(scores, len(found)), scores
