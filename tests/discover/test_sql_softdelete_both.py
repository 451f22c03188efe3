"""A visit table that keeps a boolean flag (`isCanceled`) and a deletion stamp (`deletedAt`): the
trashed rows (stamp set) are left out too, not only the flagged ones. Built here, of no product."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from tests.discover import real_ehr_support as real


@pytest.mark.postgres
def test_a_deletion_stamp_beside_a_flag_leaves_trashed_rows_out(database: str, tmp_path: Path, cli: Any) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute('CREATE TABLE "visitEvent" (id serial PRIMARY KEY, "startsAt" timestamptz, '
                           '"endsAt" timestamptz, "isCanceled" boolean NOT NULL DEFAULT false, '
                           '"patientName" text, "patientPhone" text, "createdAt" timestamptz, '
                           '"updatedAt" timestamptz, "deletedAt" timestamptz)')
        for n in range(40):
            start = (now + timedelta(days=1 + n % 10)).replace(hour=9 + n % 6)
            connection.execute('INSERT INTO "visitEvent" ("startsAt", "endsAt", "isCanceled", "patientName", '
                               '"patientPhone", "createdAt", "updatedAt", "deletedAt") VALUES '
                               "(%s, %s, %s, %s, %s, %s, %s, %s)",
                               (start, start + timedelta(minutes=20), n % 8 == 0, f"Ann Lee{n}",
                                f"+4479112345{n:02d}", now, now, now if n % 5 == 4 else None))
    settings = real.settings_file(tmp_path, "Europe/London", "GB")
    run = cli(settings)
    run("discover", database, "--write", expect=None)
    query = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]["query"]
    assert 'a."deletedAt" IS NULL' in query, query
    assert 'a."isCanceled" IS NOT TRUE' in query, query
