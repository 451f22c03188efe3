"""`discover` on the real shape of MRBS, the Meeting Room Booking System, in PostgreSQL
(tests/fixtures/ehr/mrbs, with its SOURCE note; rows from tests/discover/mrbs_data.py), booked by a
medical centre as its appointment book: one room per doctor, each booking named after its
patient, a product it had never met. What it has: a visit's start and end as Unix seconds in INT
columns, the room → area (with the area's zone), status bit flags, each occurrence of a weekly
series a row of its own, no patient contact at all, a cancelled booking deleted. Driven as the
admin would: ``discover --write`` (which runs ``check``), then ``sync --once``, every visit ahead
compared field by field (matched by its start: the visit at that time)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from tests.discover import mrbs_data as mrbs
from tests.discover import real_ehr_support as real

# what the admin types for the product's status bits (STATUS_PRIVATE 1, STATUS_TENTATIVE 4)
NUMBERS = {"0": "booked", "1": "booked", "4": "pending"}


@pytest.mark.postgres
def test_on_postgresql(postgres_url: str, tmp_path: Path, cli: Any) -> None:
    """The bookings read (not their few series rows), windowed on the Unix seconds, the room as the
    doctor with its email and its area as the place; the status bits typed by the admin; `check`
    exit 1 as nobody can be reminded (MRBS keeps no patient contact); then at least 95 % of the
    visits right on each field MRBS keeps, and a booking deleted at the source deleted here."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        truth, cancelled = mrbs.build(connection)
    settings = real.settings_file(tmp_path, mrbs.ZONE, mrbs.REGION)
    run = cli(settings)
    code, out, err = run("discover", postgres_url, "--write", expect=None)
    print(code, out, err, settings.read_text(encoding="utf-8"),
          *(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")))
    assert code == 1 and "'status' holds numbers (0, 1, 4)" in out, out
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    assert "FROM mrbs_entry AS a" in connector["query"], connector["query"]
    assert "a.start_time BETWEEN CAST(EXTRACT(EPOCH FROM CAST(:window_start AS TIMESTAMP)) AS BIGINT)" \
        in connector["query"] and connector["window"] == {"timezone": "UTC"}, connector
    assert real.words_mapped(real.mapping_file(tmp_path), NUMBERS) == 3  # the three numbers discover listed
    code, out, _ = run("check", expect=None)
    print("CHECK", code, out)
    assert code == 1 and "1 problem\n" in out + "\n" and "only 0 of 80 (0%) upcoming visits have a usable phone" \
        in out, out
    run("sync", "--once", "--json")
    with psycopg.connect(postgres_url, autocommit=True) as connection:  # the desk cancels three bookings
        connection.execute("DELETE FROM mrbs_entry WHERE id = ANY(%s)", (list(cancelled),))
    run("sync", "--once", "--json")
    _, listed, _ = run("appointments", "list", "--all", "--include-deleted", "--json")
    gone = {a["start"]: a["deleted"] for a in json.loads(listed)["items"] if a["start"] in cancelled.values()}
    assert gone == dict.fromkeys(cancelled.values(), True), gone
    found = real.data.stored(run)
    by_start = {v["start"]: v for v in found.values()}
    keyed = {k: {**by_start[k], "start": k} for k in truth if k in by_start}
    scores = real.scores(keyed, {k: {**t, "start": k} for k, t in truth.items()})
    print("fields right of", len(truth), scores, "stored", len(found))
    assert len(found) == len(truth) and all(right >= 0.95 * len(truth) for right in scores.values()), scores
