"""A poll reads the source as it is now; a message was sent earlier.

Two updates of one visit stamped alike cannot be ordered by their stamps. For messages (an HL7
feed, a webhook) the later arrival may be the older one, so such an update never brings a
cancelled visit back (tests/connectors/test_hl7v2_months.py). A poll of a database is
different: its later read is the newer state. A practice database that stamps changes to the
minute (SQL Server's smalldatetime, a DATETIME written without seconds) shows a visit the desk
cancelled by mistake and booked again within that minute with the same stamp; a poll between
the two saw it cancelled, and the next one must take it back, or the patient keeps a
cancellation notice and loses their reminders."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from clinicsync.sync.store.db import make_engine

SQL_MAPPING = Path(__file__).parent.parent / "connectors" / "data" / "sql_appointments.yaml"
# The test table's mapping, with the row's change stamp as the update's time (as an admin's mapping of a
# practice database that keeps one may say).
STAMPED = SQL_MAPPING.read_text() + "  source_updated_at: {from: updated_at}\n"


def statuses(run: Any) -> dict[str, str]:
    _, out, _ = run("appointments", "list", "--all", "--json", "--from", "2026-01-01")
    return {a["external_id"]: a["status"] for a in json.loads(out)["items"]}


@pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
def test_a_booking_restored_in_the_minute_it_was_cancelled_is_booked_at_the_next_poll(
        tmp_path: Path, write_settings: Callable[..., Path], cli: Any) -> None:
    source_url = f"sqlite:///{tmp_path / 'pm.db'}"
    source = make_engine(source_url)

    def save(status: str, stamp: str) -> None:
        with source.begin() as connection:
            connection.execute(text("DELETE FROM appts"))
            connection.execute(text("INSERT INTO appts VALUES (1, 'p1', '2027-01-14 10:00', 20, :status, :stamp)"),
                               {"status": status, "stamp": stamp})

    with source.begin() as connection:
        connection.execute(text("CREATE TABLE appts (id integer PRIMARY KEY, patient_id text, starts_at text, "
                                "minutes integer, status text, updated_at text)"))
    save("booked", "2026-11-01 09:00")
    mapping = tmp_path / "pm.yaml"
    mapping.write_text(STAMPED)
    connector = textwrap.dedent(f"""\
        - name: pm
          kind: sql
          mapping: {mapping}
          url: "{source_url}"
          table: appts
          cursor_column: updated_at
        """)
    run = cli(write_settings(connector))
    run("sync", "--once", "--json")
    assert statuses(run) == {"1": "booked"}
    save("cancelled", "2026-11-02 10:15")  # cancelled by mistake at 10:15:10 ...
    run("sync", "--once", "--json")
    assert statuses(run) == {"1": "cancelled"}
    save("booked", "2026-11-02 10:15")  # ... and booked again at 10:15:40: the same stamp
    run("sync", "--once", "--json")
    assert statuses(run) == {"1": "booked"}
    source.dispose()
