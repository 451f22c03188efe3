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

# what the admin types for the participant's one-letter status (the schema's own comments): A
# accepted, W waiting, R rejected/declined, D deleted (a deleted event keeps its rows)
LETTERS = {"A": "booked", "W": "pending", "R": "cancelled", "D": "cancelled"}


@pytest.mark.mariadb
def test_on_mariadb(mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    """discover asks how the times are kept (nothing says GMT), then with ``--stored-times utc``
    reads the start from the two numbers, leaves the untimed entries out, takes the patient and
    the doctor from the participant rows (the doctors told by the visits they are on) and asks
    for the four letters; with them typed `check` passes, and at least 95 % of the visits are
    right on each field WebCalendar keeps."""
    truth, settings, run = real.admin_start(mariadb_database, webcalendar.build, tmp_path, webcalendar.ZONE,
                                            webcalendar.REGION, cli)
    url = str(mariadb_database["url"])
    _, out, err = run("discover", url, "--write", expect=2)
    assert "cannot tell whether the database keeps its date-times in UTC" in out + err, out
    code, out, err = run("discover", url, "--write", "--stored-times", "utc", expect=None)
    print(code, out, err, settings.read_text(encoding="utf-8"),
          *(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")))
    assert code == 1 and "'A'                  -> ? (unknown" in out, out
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["start"] == {"date": "cal_date", "time": "cal_time", "time_unit": "hhmmss"}, fields
    assert "note: start: rows whose 'cal_time' is negative or empty have no time of day" in out, out
    assert real.words_mapped(real.mapping_file(tmp_path), LETTERS) == 4
    code, out, _ = run("check", expect=None)
    print("CHECK", code, out)
    assert code == 0 and "0 would be quarantined, 0 problems" in out, out
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    by_start = {v["start"]: v for v in found.values()}
    keyed = {k: {**by_start[k], "start": k} for k in truth if k in by_start}
    scores = real.scores(keyed, {k: {**t, "start": k} for k, t in truth.items()})
    print("fields right of", len(truth), scores, "stored", len(found))
    assert len(found) == len(truth), len(found)  # no untimed entry at midnight, nothing else
    assert all(right >= 0.95 * len(truth) for right in scores.values()), scores
