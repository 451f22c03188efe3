"""`discover` on the real shape of Care2x in MariaDB (tests/fixtures/ehr/care2x, with its SOURCE
note; rows from tests/discover/care2x_data.py), a hospital information system clinicsync had
never met. What it has: no foreign key; the day and the time of day in two columns; the doctor
only as a typed name; the department picked from a list; 0/1 reminder flags beside the visit
(``remind_phone``); a relative's phone on the patient's row; no end and no length. Driven as the
admin would: ``discover --write`` (which runs ``check``), then ``sync --once``, every visit ahead
compared field by field (matched by its start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.discover import care2x_data as care2x
from tests.discover import real_ehr_support as real


@pytest.mark.mariadb
def test_on_mariadb(mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    """With the six lines alone: the start from the day and the time (not the row's
    ``modify_time``), the patient from ``pid`` (not the person rows whose street number looks like
    an appointment's key), the mobile and never the relative's phone, the typed name as the
    doctor (``to_staff_nr`` is 0 on every row), the department as the place, the records taken
    away (``status`` 'void') left out; `check` passes and every visit ahead is right on every
    field Care2x keeps. Before: nothing was stored right (the start was ``modify_time``, outside
    the window: `check` failed on 0 records)."""
    truth, settings, run = real.admin_start(mariadb_database, care2x.build, tmp_path, care2x.ZONE, care2x.REGION,
                                            cli)
    url = str(mariadb_database["url"])
    code, out, err = run("discover", url, "--write", expect=None)
    print(code, out, err, settings.read_text(encoding="utf-8"),
          *(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")))
    assert code == 0, out + err
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["start"] == {"date": "date", "time": "time"}, fields["start"]
    assert fields["practitioner.external_id"] == {"from": "to_staff_name"}, fields["practitioner.external_id"]
    assert "relative" not in str(fields["patient.phone"]), fields["patient.phone"]
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    by_start = {v["start"]: v for v in found.values()}
    keyed = {k: {**by_start[k], "start": k} for k in truth if k in by_start}
    scores = real.scores(keyed, {k: {**t, "start": k} for k, t in truth.items()})
    print("fields right of", len(truth), scores, "stored", len(found))
    assert len(found) == len(truth), len(found)  # the records taken away are not stored
    assert all(right == len(truth) for right in scores.values()), scores
