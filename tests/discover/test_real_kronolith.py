"""`discover` on the real shape of Horde Kronolith in MariaDB (tests/fixtures/ehr/kronolith, with
its SOURCE note; rows from tests/discover/kronolith_data.py), the calendar of Horde Groupware, a
product it had never met. What it has: no foreign key; the event's start and end DATETIMEs in UTC
(the default ``utc`` setting), its zone in ``event_timezone`` when the user set one, its status a
number (0 none, 1 tentative, 2 confirmed, 3 cancelled, 4 free), the patient only inside
``event_attendees`` (PHP's ``serialize()`` of attendee objects), the calendar a
``kronolith_sharesng`` row found by ``share_name`` (a text key, no foreign key), the patients'
cards in Turba's ``turba_objects``. Driven as the admin would: ``discover --write``, which asks
how the date-times are stored (nothing in the database says), then with ``--stored-times utc``
and the five status numbers typed, ``sync --once``; every visit ahead compared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.discover import kronolith_data as kronolith
from tests.discover import real_ehr_support as real

# what the admin types for the product's numbers (Kronolith::STATUS_*); 4 (free) marks a block
NUMBERS = {"0": "booked", "1": "pending", "2": "booked", "3": "cancelled", "4": "entered-in-error"}


@pytest.mark.mariadb
def test_kronolith_utc_starts_the_event_zone_and_what_is_left_out(mariadb_database: dict[str, Any], tmp_path: Path,
                                                                  cli: Any) -> None:
    truth, _settings, run = real.admin_start(mariadb_database, kronolith.build, tmp_path, kronolith.ZONE,
                                            kronolith.REGION, cli)
    url = str(mariadb_database["url"])
    _, out, _ = run("discover", url, "--write", expect=2)
    assert "cannot tell whether the database keeps its date-times in UTC" in out + _, out
    code, out, err = run("discover", url, "--write", "--stored-times", "utc", expect=None)
    print(out, err, real.mapping_file(tmp_path).read_text(encoding="utf-8"))
    assert code == 1 and "'event_status' holds numbers (0, 1, 2, 3, 4)" in out, out
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["start"] == {"from": "event_start"} and fields["timezone"] == {"from": "event_timezone"}, fields
    # the patient is inside the serialized attendees: left out, and discover says where it is
    assert "note: patient.email: left out: 'event_attendees' (50 of 50 sampled values) holds PHP-serialized" \
        in out, out
    real.words_mapped(real.mapping_file(tmp_path), NUMBERS)
    code, out, _ = run("check", expect=None)
    print("CHECK", code, out)
    # nobody can be reminded and no doctor reached: check says both and fails
    assert code == 1 and "2 problems" in out and "only 0 of" in out and "has a doctor" in out, out
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    scores = real.scores(found, truth)
    print("fields right of", len(truth), scores, "other rows stored", len(set(found) - set(truth)))
    kept = ("start", "status", "zone", "location")
    assert {f: scores[f] for f in kept} == dict.fromkeys(kept, len(truth)), scores
    # left: the patient only in the serialized attendees, the doctor only through the calendar's
    # text key; nothing is guessed for them
    assert "patient.external_id" not in fields and "practitioner.external_id" not in fields, fields
