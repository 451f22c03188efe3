"""`stored_times: utc` corrected on an incremental SQL source after go-live (issue 57): the
database keeps naive UTC, the connector first read it as Chicago wall clock (every visit six
hours late). Switching the key re-reads every row once — not only rows that change later —
and re-times every visit as a correction: calendars fixed, nobody told their visit moved.
Through the CLI on the real PostgreSQL."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

ZONE = "America/Chicago"
MAPPING = """\
name: utc_rows
fields:
  external_id: {from: id, required: true}
  start: {from: start_at}
  duration_minutes: {from: minutes}
  source_updated_at: {from: write_date}
  patient.external_id: {from: patient}
"""


@pytest.mark.postgres
def test_switching_to_utc_re_reads_every_row_and_corrects_it_quietly(
        postgres_url: str, tmp_path: Path, write_settings: Callable[..., Path], cli: Callable[..., Any]) -> None:
    today = datetime.now(ZoneInfo(ZONE)).date()
    walls = {str(n): datetime.combine(today + timedelta(days=10 + n), datetime.min.time()) + timedelta(hours=8.5)
             for n in range(1, 4)}
    instants = {k: w.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC) for k, w in walls.items()}
    stamp = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(hours=1)
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("CREATE TABLE visits (id text PRIMARY KEY, start_at timestamp, minutes integer, "
                           "patient text, write_date timestamp)")
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO visits VALUES (%s, %s, 30, %s, %s)",
                               [(k, v.replace(tzinfo=None), f"p{k}", stamp - timedelta(hours=int(k)))
                                for k, v in instants.items()])  # hours apart: past the cursor's overlap
    mapping = tmp_path / "utc_rows.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")

    def configure(extra: str) -> Any:
        connector = textwrap.dedent(f"""\
            - name: db
              kind: sql
              url: "{postgres_url}"
              query: SELECT * FROM visits
              mapping: {mapping}
              cursor_column: write_date
            """) + extra
        return cli(write_settings(connector, timezone=ZONE))

    def starts(run: Any) -> dict[str, str]:
        _, out, _ = run("appointments", "list", "--all", "--json", "--from", "2000-01-01")
        return {a["external_id"]: a["start"] for a in json.loads(out)["items"]}

    run = configure("")
    run("sync", "--once", "--json")
    late = starts(run)
    assert late == {k: (v + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ") for k, v in instants.items()}

    run = configure("  stored_times: utc\n")
    _, out, _ = run("sync", "--once", "--json")
    report = json.loads(out)["connectors"]["db"]
    assert starts(run) == {k: v.strftime("%Y-%m-%dT%H:%M:%SZ") for k, v in instants.items()}
    assert (report["fetched"], report["rescheduled"], report["updated"], report.get("corrected")) == (3, 0, 3, 3)

    _, out, _ = run("sync", "--once", "--json")  # the new cursor holds: nothing read again but the overlap
    assert json.loads(out)["connectors"]["db"]["updated"] == 0
