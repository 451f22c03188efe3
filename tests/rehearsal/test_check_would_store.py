"""`clinicsync check` rehearses the import a sync would make and fails a setup whose records all
map while the sync keeps nothing anybody books (sync/checks/would_store.py): on a real
PostgreSQL practice, a query windowed on the rows' creation date (the shape of a WordPress
site's ``wp_posts`` read by ``post_date``: one fresh row of many, none ahead) and a visit id
taken from a key many visits share. The right query passes.

The practice: 60 visits in the next weeks, each created 10-90 days before, one row created two
hours ago; 20 patients, three doctors."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests.conftest import postgres_schema

ZONE = "America/New_York"
VISITS = 60
DDL = """
CREATE TABLE patients (id integer PRIMARY KEY, name text NOT NULL, phone text NOT NULL);
CREATE TABLE appointments (
  id integer PRIMARY KEY, patient_id integer NOT NULL REFERENCES patients(id), provider_id integer NOT NULL,
  starts_at timestamp NOT NULL, created_at timestamp NOT NULL, minutes integer NOT NULL, status text NOT NULL
);
"""
MAPPING = """\
name: practice
status_map: {scheduled: booked, cancelled: cancelled}
fields:
  external_id: {from: id}
  start: {from: starts_at}
  duration_minutes: {from: minutes}
  status: {from: status}
  patient.external_id: {from: patient_id}
  patient.name: {from: patient_name}
  patient.phone: {from: patient_phone}
  practitioner.external_id: {from: provider_id}
  practitioner.name: {from: doctor_name}
"""
QUERY = """SELECT {id} AS id, a.patient_id, p.name AS patient_name, p.phone AS patient_phone, a.provider_id,
  'Dr. Doc' || a.provider_id AS doctor_name, {start} AS starts_at, a.minutes, a.status
FROM appointments a JOIN patients p ON p.id = a.patient_id
WHERE {start} BETWEEN :window_start AND :window_end"""


@pytest.fixture(scope="module")
def practice() -> Iterator[str]:
    with postgres_schema() as url, psycopg.connect(url, autocommit=True) as connection:
        connection.execute(DDL)
        rng = random.Random(61)
        now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO patients VALUES (%s, %s, %s)",
                               [(100 + n, f"Zelda Quill{n}", f"+1 212 555 {1000 + n}") for n in range(20)])
            rows = []
            for n in range(VISITS):
                start = datetime.combine(now.date() + timedelta(days=2 + n % 30), time(9 + n % 8, 15 * (n % 4)))
                created = now - timedelta(days=rng.randint(10, 90)) if n else now - timedelta(hours=2)
                rows.append((1 + n, 100 + rng.randrange(20), 1 + n % 3, start, created, 30,
                             "cancelled" if n % 9 == 8 else "scheduled"))
            cursor.executemany("INSERT INTO appointments VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
        yield url


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def check(practice: str, tmp_path: Path, write_settings: Callable[..., Path], cli: Any) -> Callable[..., Any]:
    """`clinicsync check --json` on the practice read with the query's visit id and start."""
    def run(expect: int, id: str = "a.id", start: str = "a.starts_at", mapping: str = MAPPING
            ) -> tuple[dict[str, Any], str]:
        (tmp_path / "practice.yaml").write_text(mapping, encoding="utf-8")
        connector = {"name": "practice", "kind": "sql", "mapping": str(tmp_path / "practice.yaml"), "url": practice,
                     "query": QUERY.format(id=id, start=start), "mode": "snapshot"}
        text = "- " + "\n  ".join(f"{k}: {json.dumps(v)}" for k, v in connector.items()) + "\n"
        command = cli(write_settings(text, timezone=ZONE))
        _, out, _ = command("check", "--json", "--offline", expect=expect)
        _, plain, _ = command("check", "--offline", expect=expect)
        assert "Quill" not in out + plain and "+1 212" not in out + plain
        return json.loads(out)["connectors"][0], plain

    return run


def errors(result: dict[str, Any]) -> list[dict[str, str]]:
    return [f for f in result["plausibility"]["findings"] if f["level"] == "error"]


@pytest.mark.postgres
def test_the_right_query_passes(check: Callable[..., Any]) -> None:
    result, _ = check(expect=0)
    assert result["ok"] and result["sample"]["mapped"] == VISITS and errors(result) == []


@pytest.mark.postgres
def test_a_window_on_the_creation_date_fails_naming_the_start(check: Callable[..., Any]) -> None:
    """The start read from the row's creation stamp: the window keeps the one row created today,
    which maps, and nothing ahead; the table holds 60."""
    result, plain = check(expect=1, start="a.created_at")
    assert result["sample"]["mapped"] == 1 and result["sample"]["quarantined"] == {}
    (finding,) = errors(result)
    assert finding["check"] == "stored" and finding["field"] == "start"
    assert "start ('starts_at'): none of the 1 visit(s) a sync would store starts after now" in finding["message"]
    assert f"the query without its window returns {VISITS} rows" in finding["message"]
    assert "not the visit's time (a creation or change date)" in plain


@pytest.mark.postgres
def test_visits_ahead_quarantined_are_said_so_not_blamed_on_the_window(check: Callable[..., Any]) -> None:
    """A status word the mapping does not know yet ('scheduled', as discover asks for one-letter
    codes): its rows, all the visits ahead, are quarantined and only cancelled ones are kept. The
    start finding says that the visits ahead are among the quarantined rows, not that the window
    is on the wrong column (before: "the window is likely on a column that is not the visit's
    time", sending the admin to re-run discover for a mapping whose start is right)."""
    result, plain = check(expect=1, mapping=MAPPING.replace("scheduled: booked, ", ""))
    (finding,) = [f for f in errors(result) if f["field"] == "start"]
    assert "quarantined" in finding["message"] and "status_map" in finding["message"], finding
    assert "not the visit's time" not in plain


@pytest.mark.postgres
def test_a_key_many_visits_share_as_the_visit_id_fails(check: Callable[..., Any]) -> None:
    """The doctor's key read as the visit's: 60 visits map, a sync keeps 3."""
    result, plain = check(expect=1, id="a.provider_id")
    assert result["sample"]["mapped"] == VISITS
    (finding,) = errors(result)
    assert finding["check"] == "stored" and finding["field"] == "external_id"
    assert f"external_id: {VISITS} visits read (distinct id and start) are kept as 3" in finding["message"]
    assert "map it from the visit row's own key" in plain


# What discover proposed for BirchPress before it read WordPress's key/value rows (its blind
# trial): WordPress's posts table, windowed on the post's creation date. `check` passed it on
# the one row created today (an abandoned form); the first sync imported none of the visits.
POSTS_QUERY = """SELECT a.`ID`, a.post_date, a.ping_status, a.post_name, a.post_modified, a.guid, a.post_type,
  COALESCE(a.post_modified, a.post_modified_gmt) AS changed_at
FROM wp_posts AS a
WHERE a.post_date BETWEEN :window_start AND :window_end"""
POSTS_MAPPING = """\
name: posts
status_map: {open: booked}
fields:
  external_id: {from: ID}
  start: {from: post_date}
  duration_minutes: {value: 30}
  status: {from: ping_status}
  type: {from: post_type}
  patient.external_id: {from: post_name}
  patient.name: {from: post_name}
  source_updated_at: {from: post_modified, on_invalid: drop}
"""


@pytest.mark.mariadb
def test_birchpress_read_as_posts_by_their_creation_date_fails(
        mariadb_database: dict[str, Any], tmp_path: Path, write_settings: Callable[..., Path], cli: Any) -> None:
    from tests.discover import real_ehr_support as real
    from tests.discover import test_real_wp_birchpress as birchpress

    real.built(mariadb_database, birchpress.build)
    (tmp_path / "posts.yaml").write_text(POSTS_MAPPING, encoding="utf-8")
    connector = {"name": "posts", "kind": "sql", "mapping": str(tmp_path / "posts.yaml"),
                 "url": mariadb_database["url"], "query": POSTS_QUERY, "mode": "incremental",
                 "cursor_column": "changed_at", "initial_cursor": "1970-01-01 00:00:00", "stored_times": "utc"}
    text = "- " + "\n  ".join(f"{k}: {json.dumps(v)}" for k, v in connector.items()) + "\n"
    command = cli(write_settings(text, timezone=birchpress.ZONE))
    _, out, _ = command("check", "--json", "--offline", expect=1)
    result = json.loads(out)["connectors"][0]
    assert result["sample"]["mapped"] == 1 and result["sample"]["quarantined"] == {}
    (finding,) = errors(result)
    assert finding["field"] == "start" and "none of the 1 visit(s) a sync would store starts after now" in \
        finding["message"]
