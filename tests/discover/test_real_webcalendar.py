"""`discover` on the real shape of WebCalendar in MariaDB (tests/fixtures/ehr/webcalendar, with its
SOURCE note; rows from tests/discover/webcalendar_data.py), a PHP calendar a practice may keep
its appointment book in, a product it had never met. What it has: no foreign key; a visit's start
kept as two whole numbers in GMT, ``cal_date`` YYYYMMDD and ``cal_time`` HHMMSS (-1 when the
entry has no time of day), its length in minutes; the doctor and the patient both participants
(``webcal_entry_user``) and both users (``webcal_user``), the patient's status on its own row.
Driven as the admin would: ``discover --write`` (which runs ``check``), then ``sync --once``,
every visit ahead compared field by field (matched by its start: the visit at that time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.discover import real_ehr_support as real
from tests.discover import webcalendar_data as webcalendar


@pytest.mark.mariadb
def test_on_mariadb(mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    truth, settings, run = real.admin_start(mariadb_database, webcalendar.build, tmp_path, webcalendar.ZONE,
                                            webcalendar.REGION, cli)
    url = str(mariadb_database["url"])
    _, out, err = run("discover", url, "--write", expect=2)
    assert "cannot tell whether the database keeps its date-times in UTC" in out + err, out
    code, out, err = run("discover", url, "--write", "--stored-times", "utc", expect=None)
    print(code, out, err, settings.read_text(encoding="utf-8"),
          *(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")))
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    by_start = {v["start"]: v for v in found.values()}
    keyed = {k: {**by_start[k], "start": k} for k in truth if k in by_start}
    scores = real.scores(keyed, {k: {**t, "start": k} for k, t in truth.items()})
    print("fields right of", len(truth), scores, "stored", len(found))
    assert all(right >= 0.95 * len(truth) for right in scores.values()), scores
