"""`check` names the status words the mapping does not know over the whole SQL source, for
every form a connector reads it in: a ``table:``, and a query that reads past its own
``:cursor`` (an incremental read), on real PostgreSQL and MariaDB. The unknown word sits on
one row of last year, outside the window and before the cursor a first run starts from, so
a read from the cursor maps every row; only the whole-source read names it. The word is
one FHIR spells, which a sync reads by itself, but not here: the status field has its own
``map:``, its whole vocabulary."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert

from clinicsync.sync.checks.status_words import _earliest
from clinicsync.sync.store.db import make_engine
from tests.discover import ehr_support as ehr

METADATA = MetaData()
VISITS = Table("visits", METADATA, Column("id", Integer, primary_key=True, autoincrement=False),
               Column("patient_id", Integer, nullable=False), Column("phone", String(40)),
               Column("starts_at", DateTime, nullable=False), Column("state", String(40), nullable=False),
               Column("updated_at", DateTime, nullable=False))
MAPPING = """\
name: visits
fields:
  external_id: {from: id}
  start: {from: starts_at}
  duration_minutes: {value: 30}
  status: {from: state, map: {scheduled: booked, cancelled: cancelled}}
  patient.external_id: {from: patient_id}
  patient.phone: {from: phone}
  practitioner.external_id: {value: dr-1}
  practitioner.name: {value: Dr One}
"""


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """These tests are about the source; the store is SQLite (store tests cover PostgreSQL)."""
    return f"sqlite:///{tmp_path / 'store.db'}"


server = ehr.server  # the fixture: an empty database in PostgreSQL, then in MariaDB


@pytest.fixture
def visits_url(server: ehr.Server) -> Iterator[str]:
    """Six upcoming 'scheduled' visits (ids 11-16) changed this week, and one of last year (id 1),
    changed then, entered in error."""
    url = server[0]
    engine = make_engine(url)
    METADATA.create_all(engine)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    rows = [{"id": n, "patient_id": 100 + n, "phone": f"+1 212 555 {1000 + n}", "starts_at": now + timedelta(days=n),
             "state": "scheduled", "updated_at": now - timedelta(days=2)} for n in range(11, 17)]
    rows.append({"id": 1, "patient_id": 101, "phone": None, "starts_at": now - timedelta(days=400),
                 "state": "entered_in_error", "updated_at": now - timedelta(days=399)})
    with engine.begin() as connection:
        connection.execute(insert(VISITS), rows)
    engine.dispose()
    yield url


def status_finding(tmp_path: Path, write_settings: Callable[..., Path], cli: Any, url: str, source: str,
                   quarantined: int) -> dict[str, Any]:
    """The statuses finding of `check`, whose own read quarantined ``quarantined`` rows."""
    (tmp_path / "visits.yaml").write_text(MAPPING, encoding="utf-8")
    settings = (f"- name: visits\n  kind: sql\n  url: \"{url}\"\n  mapping: {tmp_path / 'visits.yaml'}\n"
                f"  stored_times: utc\n{source}")
    _, out, _ = cli(write_settings(settings))("check", "--json", "--offline", expect=1 if quarantined else 0)
    result: dict[str, Any] = json.loads(out)["connectors"][0]
    assert sum(result["sample"]["quarantined"].values()) == quarantined
    (finding,) = [f for f in result["plausibility"]["findings"] if f["check"] == "statuses"]
    return finding


def test_a_table_connector_names_the_unknown_word(visits_url: str, tmp_path: Path,
                                                  write_settings: Callable[..., Path], cli: Any) -> None:
    """A table is read whole, by `check` as by a sync: the row is quarantined in the read, and
    the whole-source read names its word with the fix."""
    finding = status_finding(tmp_path, write_settings, cli, visits_url,
                             "  table: visits\n  cursor_column: updated_at\n", quarantined=1)
    assert "'entered_in_error' (1 row(s))" in finding["message"] and "1 word(s)" in finding["message"]


@pytest.mark.parametrize("cursor", ["updated_at", "id"])
def test_a_cursor_query_names_the_unknown_word(visits_url: str, cursor: str, tmp_path: Path,
                                               write_settings: Callable[..., Path], cli: Any) -> None:
    """The query reads from its cursor, which a first run binds to a month ago (an updated-at
    cursor) or past id 10 (an increasing id): `check`'s read maps every row, and the
    whole-source read, with the cursor bound to its earliest value, names the word of last
    year's row (bound to NULL, it read no row and named nothing)."""
    since = (datetime.now(UTC) - timedelta(days=30)).strftime("'%Y-%m-%d %H:%M:%S'") if cursor == "updated_at" else "10"
    finding = status_finding(tmp_path, write_settings, cli, visits_url,
                             f"  query: \"SELECT * FROM visits WHERE {cursor} >= :cursor AND starts_at < "
                             f":window_end\"\n  cursor_column: {cursor}\n  initial_cursor: {since}\n",
                             quarantined=0)
    assert "'entered_in_error' (1 row(s))" in finding["message"] and "1 word(s)" in finding["message"]


@pytest.mark.parametrize(("initial", "earliest"), [
    ("2026-01-01 00:00:00", datetime(1900, 1, 1)), ("2026-01-01", datetime(1900, 1, 1)), (0, -(2 ** 63)),
    ("1200", -(2 ** 63)), ("0001a", ""), (None, datetime(1900, 1, 1))])
def test_the_earliest_cursor_is_of_the_initial_cursor_s_kind(initial: str | int | None, earliest: Any) -> None:
    assert _earliest(initial) == earliest
