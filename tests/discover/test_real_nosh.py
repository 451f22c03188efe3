"""`discover` on the real shape of NOSH ChartingSystem 2 in MariaDB (tests/fixtures/ehr/nosh, with
its SOURCE note), a schema it had not met: visit times as Unix seconds in integer columns, the
patient by ``pid`` and the doctor by ``provider_id`` with no foreign key declared, the front-desk
user who saved each row in ``user_id``, a doctor's blocked hours as rows with ``pid`` 0 and no
status, NOSH's own status words (DNKA, LMC), the row's MySQL ``timestamp`` as its only change
stamp (the patient's row has none: the read is a snapshot), and the patient's cell, home and
work phones beside an emergency contact's and the cell carrier's name. Driven as the admin
would: ``discover --write`` (which runs ``check``), then ``sync --once``, every visit compared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.discover import nosh_data
from tests.discover import real_ehr_support as real


@pytest.mark.mariadb
def test_nosh_on_mariadb_through_discover_check_and_sync(mariadb_database: dict[str, Any], tmp_path: Path,
                                                         cli: Any) -> None:
    def build(cursor: Any) -> dict[str, real.Want]:
        expected = nosh_data.build(cursor)
        cursor.execute("UPDATE demographics SET emergency_phone = '312-555-0199', cell_carrier = 'Verizon' "
                       "WHERE pid % 2 = 0")  # someone else's number, and no number at all
        return expected

    expected = real.built(mariadb_database, build)
    settings = real.settings_file(tmp_path, nosh_data.ZONE, "US")
    run = cli(settings)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"])], no_doctor=True)
    # The visit's `timestamp` stamps its changes, but demographics (the patient's name and phones)
    # carries no change stamp (`date` is when the patient registered): no cursor would see a new
    # phone there, so the read is a snapshot, said why.
    assert connector["mode"] == "snapshot" and "cursor_column" not in connector
    assert "# table 'demographics' supplies " in (tmp_path / "settings.yaml").read_text()
    assert "a.pid <> 0" in connector["query"]  # the blocked hours are no visits
    # the patient's social security number, birth date, race, address and comments are sampled, placed
    # on nothing, and never read by the source's query (nor the visit's free-text notes)
    assert not {"t1.ss", "t1.DOB", "t1.race", "t1.address", "t1.comments", "a.notes"} & set(
        connector["query"].replace(",", " ").split()), connector["query"]
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["start"] == {"from": "start", "type": "unix_seconds"}  # not the row's `timestamp`
    assert fields["end"] == {"from": "end", "type": "unix_seconds"}
    # the mobile first; never the emergency contact's number nor the carrier's name, nor the work
    # phone, empty on every sampled row (an empty column is never placed)
    assert fields["patient.phone"] == {"from": ["demographics_phone_cell", "demographics_phone_home"]}
    assert fields["patient.external_id"] == {"from": "pid"}  # not user_id, who saved the row
    assert "practitioner.name" not in fields  # providers.id is users.id: no name or key says so, not guessed
    assert "# note: the doctor's name: table 'providers' holds none" in (tmp_path / "settings.yaml").read_text()
    # the window is on the Unix seconds (binds in UTC): visits from a day back are read, older ones never
    assert "a.start BETWEEN TIMESTAMPDIFF(SECOND" in connector["query"] and connector["window"] == {"timezone": "UTC"}
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ahead = {k: w for k, w in expected.items() if w[0] >= since}
    found = real.sync_and_compare(run, connector, ahead, nosh_data.ZONE)
    assert len(found) == len(ahead) and len(ahead) < nosh_data.VISITS  # no blocked hour, none quarantined
