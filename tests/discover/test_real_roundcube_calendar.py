"""`discover` on the real shape of Roundcube's calendar plugin with its database driver in MariaDB
(tests/fixtures/ehr/roundcube_calendar, with its SOURCE note; rows from
tests/discover/roundcube_calendar_data.py), the webmail calendar a small practice keeps its
appointment book in, a product it had never met. What it has: an event's ``start``/``end`` in the
server's zone; the patient only inside the event's ``attendees`` text (PHP's ``json_encode`` of
name/email/role/status objects, the doctor there too as ORGANIZER); the doctor the calendar's
owner (``calendars.user_id`` -> ``users``, the name and email on the user's ``identities`` row);
the iCalendar status word or ''. Driven as the admin would: ``discover --write`` (which runs
``check``), then ``sync --once``, every visit ahead compared field by field (matched by its
start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.discover import real_ehr_support as real
from tests.discover import roundcube_calendar_data as roundcube


@pytest.mark.mariadb
def test_on_mariadb(mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    """discover reads the visits of the doctors' calendars, the patient from the attendee list,
    the doctor from the calendar's owner; `check` passes, and the visits ahead are right on each
    field Roundcube keeps."""
    truth, settings, run = real.admin_start(mariadb_database, roundcube.build, tmp_path, roundcube.ZONE,
                                            roundcube.REGION, cli)
    url = str(mariadb_database["url"])
    _, out, err = run("discover", url, "--write", expect=2)  # the driver writes the server's local time
    assert "cannot tell whether the database keeps its date-times in UTC" in out + err, out + err
    code, out, err = run("discover", url, "--write", "--stored-times", "local", expect=None)
    print(code, out, err, settings.read_text(encoding="utf-8"),
          *(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")))
    assert code == 0 and "0 would be quarantined, 0 problems" in out, out
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["patient.email"] == {"from": ["attendees[1].email", "attendees[2].email"]}, fields  # not the
    # organizer's (the doctor's), first in the list
    assert fields["location"] == {"from": "location"}, fields
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    by_start = {v["start"]: v for v in found.values()}
    keyed = {k: {**by_start[k], "start": k} for k in truth if k in by_start}
    scores = real.scores(keyed, {k: {**t, "start": k} for k, t in truth.items()})
    print("fields right of", len(truth), scores, "stored", len(found))
    # before these rules: start, end, status 74; patient name and email 0 (the organizer's: the
    # doctor's), doctor's name 0 (the calendar's label), email 0, location 0 (the owner's login)
    assert scores == dict.fromkeys(scores, len(truth)), scores
    # the days off and the lunch series (nobody invited) and the desk's staff meetings (every
    # attendee a login's email: the desk and the doctors) are left out, not read as visits
    assert "4 of 93 rows have no 'attendees'" in out, out
    assert "5 of 89 rows list only staff in 'attendees'" in out, out
    assert len(found) == len(truth), len(found)
