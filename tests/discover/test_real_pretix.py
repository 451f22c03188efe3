"""`discover` on the real shape of pretix in PostgreSQL (tests/fixtures/ehr/pretix, with its SOURCE
note; rows from tests/discover/pretix_data.py), a vaccination centre booking its time slots in
it, a product clinicsync had never met. What it has: one row per person who comes (an order's
position: their name parts as JSON, maybe their own email, no date), the slot's start on the
dated row it books (a ``subevent``, no slot word in its name), the booker's email and phone and
the booking's one-letter status on the order the positions belong to (two people in one order),
a position cancelled alone by its flag, labels kept as translations by language (JSON text),
timestamptz columns, the event's zone a row of its settings store (a second event ahead in
London, its own zone there), parking spaces booked as add-on positions of a ticket (a position
naming another of the same order: no person who comes). Driven as the admin would:
``discover --write`` (which runs ``check``: it fails until the three letters no data explains
are given, as discover asks), then ``sync --once``, every field of every visit ahead compared
with the truth (matched by its id)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.discover import pretix_data as pretix
from tests.discover import real_ehr_support as real

# what the admin types for the letters discover lists (pretix's Order.STATUS_CHOICE: n pending,
# p paid, e expired; c canceled, which discover reads from the cancellation date beside it)
LETTERS = {"p": "booked", "n": "pending", "e": "cancelled"}


@pytest.mark.postgres
def test_on_postgresql(database: str, tmp_path: Path, cli: Any) -> None:
    """Every field of every visit ahead right: one visit per position (two people on one order
    two visits; an add-on position none), the slot's start and end, the person's name from the
    name parts, their email else the booker's, the booker's phone, the order's status (a
    position cancelled alone cancelled), the site in the clinic's language, each event's zone
    (London's visits in London's, at London's hours)."""
    with psycopg.connect(database, autocommit=True) as connection:
        truth = pretix.build(connection)
    settings = real.settings_file(tmp_path, pretix.ZONE, pretix.REGION)
    run = cli(settings)
    code, out, err = run("discover", database, "--write", expect=None)
    print(code, out, err, *(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")))
    assert code == 1 and "holds one-letter codes (e, n, p)" in out, out
    assert "'c' read as cancelled" in out, out
    assert "timezone: the 'pretixbase_event' row's settings ('pretixbase_event_settingsstore'" in out, out
    assert "rows refer by 'addon_to_id' to another row of the same 'pretixbase_order' row" in out, out
    assert real.words_mapped(real.mapping_file(tmp_path), LETTERS) == 3
    code, out, _ = run("check", expect=None)
    print("CHECK", code, out)
    assert code == 0 and "0 would be quarantined, 0 problems" in out, out
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    scores = real.scores(found, truth)
    print("fields right of", len(truth), scores, "stored", len(found))
    assert set(found) == set(truth), sorted(set(found) ^ set(truth))[:5]
    assert sum(t["zone"] == pretix.ABROAD for t in truth.values()) == 12
    assert scores == dict.fromkeys(scores, len(truth)), scores
