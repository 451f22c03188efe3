"""`status`'s stage sections in words: a moment a section gives in its JSON form (UTC ISO with
a Z, e.g. the poll schedule's next due time) is shown in the screen's one labelled zone, as the
table above it is; anything else is printed as given."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from clinicsync.sync.cli.main import _plain
from clinicsync.sync.cli.output import moment

SECTION = {"sources": 2, "next_due": "2026-11-27T14:05:00Z", "polling": {}, "note": "2026-11-27"}


def test_a_sections_utc_moment_is_shown_in_the_screens_zone() -> None:
    when = partial(moment, zone=ZoneInfo("America/New_York"), utc=False, locale="en-US")
    shown = when(datetime.fromisoformat("2026-11-27T14:05:00+00:00"))
    assert shown is not None and shown.startswith("Fri, Nov 27, 2026, 9:05") and shown.endswith("AM")
    assert _plain(SECTION, when) == f"sources 2 · next due {shown} · polling none · note 2026-11-27"
    assert _plain(SECTION) == "sources 2 · next due 2026-11-27T14:05:00Z · polling none · note 2026-11-27"
