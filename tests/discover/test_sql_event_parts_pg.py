"""The groupware calendar's shape of tests/discover/test_sql_event_parts.py on PostgreSQL, built
here (not any product's tables): the participant's id a ``varchar`` holding the contacts'
``integer`` keys, which PostgreSQL will not compare as they are (text = integer fails). The
patient is still the participant of the contacts' type: the join writes the contact's key as text
(``Ref.as_text``), else the read failed and every visit had no patient."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from clinicsync.sync.discover.sql import discover_sql
from tests.discover.test_sql_event_parts import _build

DDL = """
CREATE TABLE org_accounts (account_id integer PRIMARY KEY, login varchar(40) NOT NULL, pwd varchar(40));
CREATE TABLE org_contacts (contact_id serial PRIMARY KEY, n_prefix varchar(20), n_given varchar(40),
  n_family varchar(40), mobile varchar(30), account_id integer UNIQUE);
CREATE TABLE org_zones (zone_id integer PRIMARY KEY, zone_name varchar(60) NOT NULL);
CREATE TABLE org_diary (diary_id serial PRIMARY KEY, summary varchar(80) NOT NULL, place varchar(80),
  owner integer NOT NULL, first_start bigint NOT NULL, last_end bigint, zone_id integer);
CREATE TABLE org_diary_repeats (diary_id integer PRIMARY KEY, repeat_kind integer NOT NULL, every integer);
CREATE TABLE org_diary_dates (diary_id integer NOT NULL, date_start bigint NOT NULL, date_end bigint NOT NULL,
  excluded integer NOT NULL DEFAULT 0, PRIMARY KEY (diary_id, date_start));
CREATE TABLE org_diary_people (row_id serial PRIMARY KEY, diary_id integer NOT NULL,
  reply_date bigint NOT NULL DEFAULT 0, person_kind varchar(1) NOT NULL, person_ref varchar(32) NOT NULL,
  status varchar(1));
"""
TABLES = ("org_accounts", "org_contacts", "org_zones", "org_diary", "org_diary_repeats", "org_diary_dates",
          "org_diary_people")


@pytest.mark.postgres
def test_the_patient_is_reached_through_a_text_id_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    patients = _build(tmp_path / "diary.db")  # the same rows, copied over
    with sqlite3.connect(tmp_path / "diary.db") as source, psycopg.connect(postgres_url, autocommit=True) as target:
        target.execute(DDL)
        for table in TABLES:
            rows = source.execute(f"SELECT * FROM {table}").fetchall()
            if rows:
                marks = ", ".join(["%s"] * len(rows[0]))
                with target.cursor() as cursor:
                    cursor.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    proposal = discover_sql(postgres_url, clinic_zone="Europe/Vienna", region="AT")
    fields = proposal.mapping["fields"]
    assert "patient.external_id" in fields, proposal.notes
    query = proposal.connector["query"]
    # the window on the Unix seconds, its binds the connector's date-times (UTC), opened wide
    wide = {"window_start": datetime(2000, 1, 1), "window_end": datetime(2100, 1, 1)}
    with sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)).connect() as connection:
        result = connection.execute(sa.text(query), {k: v for k, v in wide.items() if f":{k}" in query})
        names = list(result.keys())
        rows: list[Any] = result.fetchall()
    got = {str(r[names.index("diary_id")]): str(r[names.index(fields["patient.external_id"]["from"])]) for r in rows}
    assert got == patients
