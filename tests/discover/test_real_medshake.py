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
    """With the six lines, ``--stored-times local`` and 'actif' given its status: the patient's
    name is the first name and the name in use (else the birth name), the phone the current
    mobile (never the outdated or deleted one), each from one typed row, so no visit is read
    twice; every visit ahead right on start, end, status, patient, name and phone. No doctor is
    reached, and `check` says so (exit 1). Before: name right on 0 of 104, phone on 9 (the
    patients with no mobile), the typed rows never read."""
    truth, settings, run = real.admin_start(mariadb_database, medshake.build, tmp_path, medshake.ZONE,
                                            medshake.REGION, cli)
    command = [str(mariadb_database["url"]), "--stored-times", "local"]
    code, out, err = run("discover", *command, "--write", expect=None)
    print(code, out, err, settings.read_text(encoding="utf-8"))
    assert "patient.phone" in out and "'mobilePhone'" in out, out
    path = real.mapping_file(tmp_path)
    assert real.words_mapped(path, {"actif": "booked"}) == 1
    code, out, err = run("check", expect=None)
    assert code == 1 and "practitioner.external_id: none of the" in out, out
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    by_start = {v["start"]: v for v in found.values()}
    keyed = {k: {**by_start[k], "start": k} for k in truth if k in by_start}
    scores = real.scores(keyed, {k: {**t, "start": k} for k, t in truth.items()})
    print("fields right of", len(truth), scores, "stored", len(found))
    for field in ("start", "end", "status", "patient", "name", "phone", "zone"):
        assert scores[field] == len(truth), (field, scores)
