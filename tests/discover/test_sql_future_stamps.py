"""A change stamp in the future stalls an incremental read (issue 57): the cursor stays at the
largest stamp read, so every change made before that hour is passed over, silently. `discover`
counts such rows, in the convention it chose, and says so with the fix; none: no note."""

from __future__ import annotations

import psycopg
import pytest

from clinicsync.sync.discover.sql import discover_sql

ZONE = "America/New_York"


def _fill(url: str, ahead: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"""
            CREATE TABLE patients (id integer PRIMARY KEY, first_name text, last_name text, mobile text,
                                   updated_at timestamp);
            CREATE TABLE visits (id integer PRIMARY KEY, patient_id integer REFERENCES patients(id),
                                 starts_at timestamp NOT NULL, status text NOT NULL, updated_at timestamp NOT NULL);
            INSERT INTO patients SELECT n, 'Given' || n, 'Family' || n, '617-253-' || (1000 + n), NULL
              FROM generate_series(1, 30) AS n;
            INSERT INTO visits SELECT n, 1 + n % 30, date_trunc('day', now()) + n * interval '1 day'
                                         + interval '14 hours', 'booked',
                                      (now() AT TIME ZONE '{ZONE}') - interval '2 hours'
                                        + CASE WHEN n % 20 = 0 THEN interval '{ahead}' ELSE interval '0' END
              FROM generate_series(1, 60) AS n;
            """)


@pytest.mark.postgres
def test_stamps_in_the_future_are_named_with_the_fix(postgres_url: str) -> None:
    """The admin said how the rows are written (--stored-times local): a few rows stamped 5 h
    ahead of the others (a clock set wrong at one desk) would hold the cursor 3 h ahead."""
    _fill(postgres_url, "5 hours")
    proposal = discover_sql(postgres_url, timezone=ZONE, stored_times="local")
    assert proposal.connector["mode"] == "incremental"
    note = next((n for n in proposal.notes if "in the future" in n and "cursor" in n),
                " | ".join(proposal.notes) + " || " + str(proposal.connector))
    assert "3 row(s) carry a change stamp in the future (the latest 3.0 h past the database's clock read as " \
           "local time)" in note, note
    assert "set mode: snapshot" in note


@pytest.mark.postgres
def test_no_note_when_every_stamp_is_past(postgres_url: str) -> None:
    _fill(postgres_url, "0 hours")
    proposal = discover_sql(postgres_url, timezone=ZONE, stored_times="local")
    assert not [n for n in proposal.notes if "change stamp in the future" in n]
