"""The doctor kept as the owner user of the visit's shared record row, on the real PostgreSQL and
MariaDB: a CRM-style schema keeps every record's common fields on one entity row with the same
key as the record (``records.record_id`` = ``events.event_id``, a declared foreign key), and that
row, not the event, names the user the event is assigned to (``ownerid`` -> ``app_users``, no
declared key, whole numbers too few to be matched by valuerefs.py's rule). Beside it, who created
and who last changed the row (``created_by``, ``modified_user_id``) are users too: the desk's
clerks, never the doctor. The event table holds meetings beside phone calls logged against the
client and tasks naming no one (``event_kind`` 'Meeting' / 'Call' / 'Task'): the calls are left
out by their kind, as the tasks are. Driven as the admin would: ``discover --write`` (which runs
``check``), ``sync --once``, every visit compared."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from clinicsync.sync.discover.graph import Table
from clinicsync.sync.discover.kindwords import is_call
from clinicsync.sync.discover.sharedowner import owner_columns
from tests.discover import ehr_support as ehr
from tests.discover import sql_support as data

ZONE = "America/New_York"
VISITS = 48
server = ehr.server  # the fixture: an empty database in each of the two servers
DOCTORS = {3: ("Anna", "Berg"), 4: ("Omar", "Haddad"), 6: ("Lise", "Moreau")}
CLERKS = {1: ("Desk", "One"), 2: ("Desk", "Two"), 5: ("Night", "Desk")}  # users too: who typed the rows
DDL = """
CREATE TABLE app_users (uid INTEGER PRIMARY KEY, login VARCHAR(40) NOT NULL, user_password VARCHAR(80) NOT NULL,
  first_name VARCHAR(40), last_name VARCHAR(40), email VARCHAR(80));
CREATE TABLE records (record_id INTEGER PRIMARY KEY, created_by INTEGER NOT NULL, modified_user_id INTEGER,
  ownerid INTEGER NOT NULL, module VARCHAR(20) NOT NULL, created_at {TS} NOT NULL, modified_at {TS} NOT NULL,
  deleted SMALLINT NOT NULL DEFAULT 0);
CREATE TABLE clients (client_id INTEGER PRIMARY KEY REFERENCES records(record_id), first_name VARCHAR(40) NOT NULL,
  last_name VARCHAR(40) NOT NULL, mobile VARCHAR(30));
CREATE TABLE events (event_id INTEGER PRIMARY KEY REFERENCES records(record_id),
  client_id INTEGER REFERENCES clients(client_id), event_kind VARCHAR(20) NOT NULL, subject VARCHAR(80),
  starts {TS} NOT NULL, ends {TS} NOT NULL, event_status VARCHAR(20) NOT NULL)
"""


def _fill(server: ehr.Server) -> dict[str, tuple[str, str, str]]:
    """The schema and its rows; per meeting the store must hold: its client, its doctor's id and
    name. The clerks create and change every row, owners of none of the meetings."""
    _, opener, dialect = server
    slots = data.future_slots(ZONE, VISITS)
    made = slots[0] - timedelta(days=30)
    doctor_ids = sorted(DOCTORS)
    with opener() as cursor:
        for statement in DDL.replace("{TS}", ehr.TYPES[dialect]["TS"]).split(";"):
            cursor.execute(statement)
        cursor.executemany("INSERT INTO app_users VALUES (%s, %s, 'x$hash', %s, %s, %s)",
                           [(u, f"{f}{u}".lower(), f, last, f"{f.lower()}.{last.lower()}@clinic.example")
                            for u, (f, last) in sorted({**DOCTORS, **CLERKS}.items())])
        records, events, truth = [], [], {}
        for c in range(1, 13):
            records.append((c, 1 + c % 2, 5, 1 + c % 2, "Clients", made, made, 0))
        for n, start in enumerate(slots, 1):
            event, client = 100 + n, 1 + n % 12
            kind = "Call" if n % 5 == 2 else "Task" if n % 7 == 3 else "Meeting"
            doctor = doctor_ids[n % len(doctor_ids)]
            records.append((event, 1 + n % 2, 5, doctor, "Events", made, made + timedelta(hours=n), 0))
            events.append((event, None if kind == "Task" else client, kind, f"{kind} {n}", start,
                           start + timedelta(minutes=15 if kind == "Call" else 30), "booked"))
            if kind == "Meeting":
                truth[str(event)] = (str(client), str(doctor), " ".join(DOCTORS[doctor]))
        cursor.executemany("INSERT INTO records VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", records)
        cursor.executemany("INSERT INTO clients VALUES (%s, %s, %s, %s)",
                           [(c, f"Zelda{c}", f"Quill{c}", f"+1 212 555 {1000 + c}") for c in range(1, 13)])
        cursor.executemany("INSERT INTO events VALUES (%s, %s, %s, %s, %s, %s, %s)", events)
    return truth


def test_the_doctor_is_the_owner_user_of_the_shared_record_row(server: ehr.Server, tmp_path: Path,
                                                               cli: Any) -> None:
    """Every meeting reaches its owner user (id, name, email), `check` passes with the doctors'
    agendas on; the creator and modifier, users with names too, are never taken for the doctor;
    the calls, which name their client like a meeting, are left out by their kind, said so."""
    url = server[0]
    truth = _fill(server)
    settings = data.admin_settings(tmp_path, ZONE)  # agendas on: check fails when no doctor is reached
    run = cli(settings)
    _, out, _ = run("discover", url, "--table", "events", "--stored-times", "local", "--write")
    print(out)
    assert "0 would be quarantined, 0 problems" in out, out
    assert "holds the user it is assigned to ('ownerid')" in out, out
    assert "'created_by', 'modified_user_id' record who created or changed the row, never the doctor" in out, out
    assert "'Call' (10 rows, 10 naming someone) are phone calls logged against the contact" in out, out
    fields = yaml.safe_load(next((tmp_path / "mappings").glob("*.yaml")).read_text(encoding="utf-8"))["fields"]
    assert fields["practitioner.email"] == {"from": "doctor_email"}, fields
    query = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]["query"]
    assert query.count("JOIN records AS") == 1, query  # the shared row read once: its owner and its flag
    assert "user_password" not in query, query
    run("sync", "--once")
    found = data.stored(run)
    assert set(found) == set(truth)  # no call, no task
    got = {k: (a["patient"]["id"], a["practitioner"]["id"], a["practitioner"]["name"]) for k, a in found.items()}
    assert got == truth
    assert all(a["practitioner"]["email"].endswith("@clinic.example") for a in found.values())


def test_owner_columns_are_told_from_who_created_or_changed_the_row() -> None:
    """The owner by its name, whole or run together (``smownerid``, ``assigned_user_id``,
    ``owner``, ``user_id``); never who created or changed the row (``smcreatorid``,
    ``modifiedby``, ``created_by``, ``modified_user_id``, ``last_user_id``)."""
    columns = ["id", "smcreatorid", "smownerid", "modifiedby", "assigned_user_id", "created_by", "modified_user_id",
               "owner", "user_id", "last_user_id", "assigned_to", "deleted", "setype"]
    table = Table("entity", dict.fromkeys(columns, "INTEGER"), ["id"], [])
    assert owner_columns(table) == ["smownerid", "assigned_user_id", "owner", "user_id", "assigned_to"]


@pytest.mark.parametrize(("kind", "call"), [("Call", True), ("Phone call", True), ("OUTBOUND_CALL", True),
                                            ("PhoneCall", True), ("Anruf", True), ("Llamada telefónica", True),
                                            ("Meeting", False), ("Video call", False), ("Phone consultation", False),
                                            ("Telefonsprechstunde", False), ("AC_TEL", False), (None, False)])
def test_a_kind_says_a_phone_call_only_in_call_words(kind: str | None, call: bool) -> None:
    assert is_call(kind) is call
