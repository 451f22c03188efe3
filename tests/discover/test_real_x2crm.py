"""`discover` on the real shape of X2CRM in MariaDB (tests/fixtures/ehr/x2crm, with its SOURCE
note; rows from tests/discover/x2crm_data.py), the CRM a small practice keeps its appointment book
in, a product it had never met. What it has: no foreign key between the tables a visit uses; every
date Unix seconds in a BIGINT (the start ``dueDate``, the end ``completeDate``); the doctor the
user's login as text (``assignedTo`` = ``x2_users.username``, the name and email on the user's
``x2_profile``); the patient a polymorphic reference (``associationType`` 'contacts' +
``associationId``), beside staff meetings and calls to accounts in the same table; a 'Yes'/'No'
completion flag; the status on a meta-data row. Driven as the admin would: ``discover --write``
(which runs ``check``), then ``sync --once``, every visit ahead compared field by field (matched by
its start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.discover import real_ehr_support as real
from tests.discover import x2crm_data as x2crm


@pytest.mark.mariadb
def test_on_mariadb(mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    """discover reads the start and end from the seconds, the patient from the contact the event
    is about, the doctor from the user its login names; `check` passes, and every visit ahead is
    right on each field X2CRM keeps."""
    truth, settings, run = real.admin_start(mariadb_database, x2crm.build, tmp_path, x2crm.ZONE, x2crm.REGION, cli)
    url = str(mariadb_database["url"])
    code, out, err = run("discover", url, "--write", expect=None)
    print(code, out, err, settings.read_text(encoding="utf-8"),
          *(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")))
    assert code == 0 and "0 would be quarantined, 0 problems" in out, out
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["start"] == {"from": "dueDate", "type": "unix_seconds"}, fields
    assert fields["end"] == {"from": "completeDate", "type": "unix_seconds"}, fields  # told by its values
    query = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]["query"]
    assert "a.`associationType` = 'contacts'" in query and "username = a.`assignedTo`" in query, query
    assert "have a start and no end 'completeDate'" in out, out  # the to-dos left out
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    by_start = {v["start"]: v for v in found.values()}
    keyed = {k: {**by_start[k], "start": k} for k in truth if k in by_start}
    scores = real.scores(keyed, {k: {**t, "start": k} for k, t in truth.items()})
    print("fields right of", len(truth), scores, "stored", len(found))
    # before these rules: start 78, end 26, status 71, patient 0, name 78 (the event's copy of it),
    # phone 8 and email 26 (only the empty ones), doctor's name and email 0; 90 stored
    assert len(found) == len(truth), len(found)  # no staff meeting, supplier call or to-do
    assert scores == dict.fromkeys(scores, len(truth)), scores
