"""`discover` on the real shape of MedShakeEHR in MariaDB (tests/fixtures/ehr/medshake, with its
SOURCE note; rows from tests/discover/medshake_data.py), a French practice EHR clinicsync had
never met. What it has: everyone a bare ``people`` row; each name, phone and email a typed value
row of ``objets_data`` (``toID`` the person, ``typeID`` a ``data_types`` row named
``firstname``, ``birthname``, ``lastname``, ``mobilePhone``...), an old value kept flagged
``outdated`` 'y', a removed one ``deleted`` 'y'; no foreign key declared; the visit's
``statut`` 'actif'/'deleted'. Driven as the admin would: ``discover --write`` (which runs
``check``), then ``sync --once``, every visit ahead compared field by field (matched by its
start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.discover import medshake_data as medshake
from tests.discover import real_ehr_support as real


@pytest.mark.mariadb
def test_on_mariadb(mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    """With the six lines and ``--stored-times local`` (the test's server keeps UTC and nothing
    the query reads says how the application writes): `check` passes, and every visit ahead is
    right on every field. The patient's name is the first name and the name in use (else the
    birth name), the phone the current mobile (never the outdated or deleted one), the email the
    personal one, each from one typed row, so no visit is read twice; the doctor is the
    ``userid`` person of the same table, named by its own typed rows; 'actif' is booked.
    Before: name right on 0 of 104, phone on 9 and email on 34 (those with none), doctor and
    doctor's name on 0, `check` failing on no doctor, 'actif' asked of the admin."""
    truth, settings, run = real.admin_start(mariadb_database, medshake.build, tmp_path, medshake.ZONE,
                                            medshake.REGION, cli)
    command = [str(mariadb_database["url"]), "--stored-times", "local"]
    connector = real.discover_then_check(run, settings, command)
    mapping = real.written_mapping(tmp_path)
    assert mapping["status_map"] == {"actif": "booked", "deleted": "cancelled"}, mapping["status_map"]
    assert "outdated" in connector["query"] and "deleted" in connector["query"], connector["query"]
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    by_start = {v["start"]: v for v in found.values()}
    keyed = {k: {**by_start[k], "start": k} for k in truth if k in by_start}
    scores = real.scores(keyed, {k: {**t, "start": k} for k, t in truth.items()})
    print("fields right of", len(truth), scores, "stored", len(found))
    assert all(right == len(truth) for right in scores.values()), scores
