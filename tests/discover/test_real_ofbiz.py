"""`discover` on the real shape of Apache OFBiz in MariaDB (tests/fixtures/ehr/ofbiz, with its
SOURCE note; rows from tests/discover/ofbiz_data.py), an ERP clinicsync had never met, whose
calendar keeps a visit as a work effort and everyone as a party. What it has: a party table with
no name (the names on the person row keyed by the party); who takes part as assignment rows
typed by a role code (``CAL_OWNER``, ``CAL_ATTENDEE``) beside the role's lookup, each valid over
a range (a replaced doctor's row has ended); the phone and the email as contact rows linked over
a validity range, the phone in three parts; the status a code of a lookup with a prefix
(``CAL_CANCELLED``) beside its bare code; tasks in the same table as the visits. Driven as the
admin would: ``discover --write`` (which runs ``check``), then ``sync --once``, every visit ahead
compared field by field (matched by its start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.discover import ofbiz_data as ofbiz
from tests.discover import real_ehr_support as real


@pytest.mark.mariadb
def test_on_mariadb(mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    """With the six lines alone: the events (not the parties' dated contact links, not the
    tasks), the attendee as the patient and the owner still assigned as the doctor, each named
    from the person row, the phone put together from its parts and the email, both from links
    still open (a mobile, by its purpose, before a landline linked since); `check` passes and
    every visit ahead is right on every field. Before: discover stopped to ask how times are
    stored, and given the answer read the contact-purpose links as the visits (`check` failed on
    0 records); then the newest open link won, the landline (phone right on 88 of 100)."""
    truth, settings, run = real.admin_start(mariadb_database, ofbiz.build, tmp_path, ofbiz.ZONE, ofbiz.REGION, cli)
    code, out, err = run("discover", str(mariadb_database["url"]), "--write", expect=None)
    print(code, out, err, settings.read_text(encoding="utf-8"),
          *(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")))
    assert code == 0, out + err
    assert "0 problems" in out + err, out + err
    mapping = real.written_mapping(tmp_path)
    fields = mapping["fields"]
    assert fields["start"] == {"from": "ESTIMATED_START_DATE"}, fields["start"]
    assert fields["end"] == {"from": "ESTIMATED_COMPLETION_DATE"}, fields["end"]
    assert mapping["status_map"] == {"CONFIRMED": "booked", "TENTATIVE": "booked", "CANCELLED": "cancelled"}
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    by_start = {v["start"]: v for v in found.values()}
    keyed = {k: {**by_start[k], "start": k} for k in truth if k in by_start}
    scores = real.scores(keyed, {k: {**t, "start": k} for k, t in truth.items()})
    print("fields right of", len(truth), scores, "stored", len(found))
    assert len(found) == len(truth), len(found)  # the tasks are not stored
    assert all(right == len(truth) for right in scores.values()), scores
