"""A party's phone and email as contact rows it links to over a validity range (contactlinks.py),
on a schema built here from the class (no product's tables), in SQLite: the meetings and their
role-typed members of test_sql_role_spread, and every way to reach an actor a ``channel`` row
(an email in ``detail``), linked by ``actor_channel`` rows keyed by (actor, channel, valid_from)
and closed by ``valid_thru``; a phone a ``phone_parts`` row keyed by its channel, in three parts
(country code, area code, local number). A number given up has its link closed: never read."""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from clinicsync.sync.discover.sql import discover_sql
from tests.discover import test_sql_role_spread as spread
from tests.discover.real_ehr_support import valid_number

DDL = """
CREATE TABLE channel (channel_id VARCHAR(20) PRIMARY KEY, kind VARCHAR(20), detail VARCHAR(255));
CREATE TABLE phone_parts (channel_id VARCHAR(20) PRIMARY KEY REFERENCES channel(channel_id),
  country_code VARCHAR(10), area_code VARCHAR(10), local_number VARCHAR(60));
CREATE TABLE actor_channel (actor_id VARCHAR(20) NOT NULL REFERENCES actor(actor_id),
  channel_id VARCHAR(20) NOT NULL REFERENCES channel(channel_id), valid_from DATETIME NOT NULL, valid_thru DATETIME,
  PRIMARY KEY (actor_id, channel_id, valid_from))
"""


def build(path: Path) -> dict[str, tuple[str | None, str | None]]:
    """The meetings' rows, then the attendees' channels; per meeting: the attendee's E.164
    phone still open and email."""
    members = spread.build(path)
    connection = sqlite3.connect(path)
    connection.executescript(DDL)
    rng, long_ago, lately = random.Random(7), datetime(2020, 1, 1), datetime.now() - timedelta(days=40)
    reach: dict[str, tuple[str | None, str | None]] = {}
    for n in range(30):
        actor = f"A{n}"
        channels: list[tuple[str, str | None, str | None, datetime, datetime | None]] = []
        if n % 3 == 1:  # a number given up, its link closed
            channels.append(("phone", valid_number(rng, "+1718", 12), None, long_ago, lately))
        phone = valid_number(rng, "+1917", 12) if n % 5 != 4 else None
        if phone:
            channels.append(("phone", phone, None, lately if n % 3 == 1 else long_ago, None))
        email = f"given{n}@mail.example" if n % 2 == 0 else None
        if email:
            channels.append(("email", None, email, long_ago, None))
        for c, (kind, number, address, since, until) in enumerate(channels):
            channel = f"C{n}-{c}"
            connection.execute("INSERT INTO channel VALUES (?, ?, ?)", (channel, kind, address))
            if number:
                connection.execute("INSERT INTO phone_parts VALUES (?, '1', ?, ?)",
                                   (channel, number[2:5], f"{number[5:8]}-{number[8:]}"))
            connection.execute("INSERT INTO actor_channel VALUES (?, ?, ?, ?)", (actor, channel, since, until))
        reach[actor] = (phone, email)
    connection.commit()
    connection.close()
    return {meeting: reach[attendee] for meeting, (attendee, *_) in members.items()}


def test_the_phone_in_parts_and_the_email_through_links_still_open(tmp_path: Path) -> None:
    """Before, no column of the party held a phone or an email: no visit could be reminded."""
    expected = build(tmp_path / "store.db")
    proposal = discover_sql(f"sqlite:///{tmp_path / 'store.db'}", name="store", clinic_zone="America/New_York",
                            region="US", stored_times="local")
    fields, query = (proposal.mapping or {})["fields"], proposal.connector["query"]
    assert fields["patient.phone"] == {"from": "patient_phone"}, fields
    assert fields["patient.email"] == {"from": "patient_email"}, fields
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as connection:
        rows = connection.execute(text(query), {"window_start": datetime(2000, 1, 1),
                                                "window_end": datetime(2100, 1, 1)}).mappings().all()
    got = {r["meeting_id"]: (r["patient_phone"], r["patient_email"]) for r in rows}
    want = {m: (f"+1 {p[2:5]} {p[5:8]}-{p[8:]}" if p else None, e) for m, (p, e) in expected.items()}
    assert got == want  # a closed link's old number is never read


PURPOSES = """
CREATE TABLE reach_kind (kind_id VARCHAR(20) PRIMARY KEY, label VARCHAR(255));
CREATE TABLE actor_channel_use (actor_id VARCHAR(20) NOT NULL REFERENCES actor(actor_id),
  channel_id VARCHAR(20) NOT NULL REFERENCES channel(channel_id), kind_id VARCHAR(20) NOT NULL
  REFERENCES reach_kind(kind_id), valid_from DATETIME NOT NULL, valid_thru DATETIME,
  PRIMARY KEY (actor_id, channel_id, kind_id, valid_from));
INSERT INTO reach_kind VALUES ('K1', 'Cell phone'), ('K2', 'Home line'), ('K3', 'Main address'),
  ('K4', 'Work line');
"""


def build_with_uses(path: Path) -> dict[str, tuple[str | None, str | None]]:
    """The store of ``build``, every open link given a use naming a kind whose label alone says
    what it is (codes ``K1`` … ``K4``): a phone the actor has kept a ``Cell phone``; and every
    third actor with a phone a landline added since, its link newer and still open."""
    expected = build(path)
    connection = sqlite3.connect(path)
    connection.executescript(PURPOSES)
    rng, lately = random.Random(11), datetime.now() - timedelta(days=5)
    opened = connection.execute("SELECT l.actor_id, l.channel_id, l.valid_from, p.channel_id IS NOT NULL FROM "
                                "actor_channel l LEFT JOIN phone_parts p ON p.channel_id = l.channel_id WHERE "
                                "l.valid_thru IS NULL ORDER BY l.actor_id, l.channel_id").fetchall()
    for actor, channel, since, phone in opened:
        connection.execute("INSERT INTO actor_channel_use VALUES (?, ?, ?, ?, NULL)",
                           (actor, channel, "K1" if phone else "K3", since))
        n = int(actor[1:])
        if phone and n % 3 == 0:
            landline, number = f"L{n}", valid_number(rng, "+1212", 12)
            connection.execute("INSERT INTO channel VALUES (?, 'phone', NULL)", (landline,))
            connection.execute("INSERT INTO phone_parts VALUES (?, '1', ?, ?)",
                               (landline, number[2:5], f"{number[5:8]}-{number[8:]}"))
            connection.execute("INSERT INTO actor_channel VALUES (?, ?, ?, NULL)", (actor, landline, lately))
            connection.execute("INSERT INTO actor_channel_use VALUES (?, ?, ?, ?, NULL)",
                               (actor, landline, ("K2", "K4")[n % 2], lately))
    connection.commit()
    connection.close()
    return expected


def test_the_link_a_use_calls_a_cell_phone_before_a_newer_landline(tmp_path: Path) -> None:
    """Before, the newest open link won: a patient who added a landline after their mobile was
    texted on the landline, where no SMS arrives (the numbering plan cannot tell them apart)."""
    expected = build_with_uses(tmp_path / "store.db")
    proposal = discover_sql(f"sqlite:///{tmp_path / 'store.db'}", name="store", clinic_zone="America/New_York",
                            region="US", stored_times="local")
    query = proposal.connector["query"]
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as connection:
        rows = connection.execute(text(query), {"window_start": datetime(2000, 1, 1),
                                                "window_end": datetime(2100, 1, 1)}).mappings().all()
    got = {r["meeting_id"]: r["patient_phone"] for r in rows}
    want = {m: f"+1 {p[2:5]} {p[5:8]}-{p[8:]}" if p else None for m, (p, _) in expected.items()}
    assert got == want
