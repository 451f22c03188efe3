"""A visit's end whose name says no end, told by its values, on a small MariaDB schema built here
(not a product's): the start ``start_time`` and the end ``closed_on`` both Unix seconds, beside a
stamp of the row's last look ``seen_on`` (also after the start, the same day, but to the second)
and tasks in the same table with a start and no end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.discover import sql_support as data

VISITS = 60

DDL = """CREATE TABLE person (id INT PRIMARY KEY, given_name VARCHAR(40), family_name VARCHAR(40), mobile VARCHAR(30));
CREATE TABLE job (id INT PRIMARY KEY, person_id INT, start_time BIGINT, closed_on BIGINT, seen_on BIGINT,
  FOREIGN KEY (person_id) REFERENCES person (id))"""


@pytest.mark.mariadb
def test_the_second_moment_on_the_grid_a_visit_s_length_later_is_the_end(mariadb_database: dict[str, Any]) -> None:
    """``closed_on`` is 15, 20 or 30 minutes after ``start_time`` on every visit, both on the
    5-minute grid: it is the end (the visits keep their lengths). ``seen_on``, minutes after the
    start to the second, is no end; the tasks' empty ``closed_on`` does not hide the visits'."""
    rows, want = [], {}
    base = datetime.now(UTC).replace(hour=14, minute=0, second=0, microsecond=0) + timedelta(days=1)
    for v in range(1, VISITS + 1):
        start = base + timedelta(days=v // 6, minutes=30 * (v % 6))
        task = v % 5 == 0
        length = (15, 20, 30)[v % 3]
        end = None if task else int((start + timedelta(minutes=length)).timestamp())
        rows.append((v, 1 + v % 40, int(start.timestamp()), end, int(start.timestamp()) + 61 + 37 * v))
        if not task:
            want[v] = length
    data.load_tables(mariadb_database, DDL, [
        ("INSERT INTO person VALUES (%s, %s, 'Lang', %s)", [(p, f"Eva{p}", f"+49 151 {20000000 + p}")
                                                           for p in range(1, 41)]),
        ("INSERT INTO job VALUES (%s, %s, %s, %s, %s)", rows)])
    fields, query, proposal = data.berlin_proposal(mariadb_database)
    print(fields, query, proposal.notes)
    assert fields["start"] == {"from": "start_time", "type": "unix_seconds"}, fields
    assert fields.get("end") == {"from": "closed_on", "type": "unix_seconds"}, fields
