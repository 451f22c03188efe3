"""Whose zone a visit's zone column is, for `discover`: the booker's or the clinic's.

Booking tools keep two IANA zones on a booking row: the customer's (the zone of the browser
the booking was made from: LatePoint's ``customer_timezone``, a client's ``user_tz``) and the
site's or the location's (``server_timezone``, ``location_timezone``). The visit happens at the
clinic, so its reminders and quiet hours belong in the clinic's zone; a patient who booked from
another zone would otherwise get their 9:00 visit announced at 8:00. Both columns hold valid
zones, so the values cannot tell them apart; the names can.

The rule: a ``timezone`` read from a column named for the booker is moved to a zone column named
for the site, the location or the provider whose sampled values are all IANA zones; when there
is none, it is left out with the reason, and the clinic's zone (settings) applies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clinicsync.mappings.transforms import TransformError, as_timezone
from clinicsync.sync.discover.kinds import PATIENT, PERSON
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.vocab import name_tokens

_BOOKER = PATIENT | PERSON | frozenset({"guest", "browser", "visitor", "attendee", "booker", "invitee",
                                       "paciente", "kunde"})
_SITE = frozenset({"server", "site", "location", "clinic", "business", "office", "practice", "branch", "company",
                   "provider", "staff", "agent", "doctor", "practitioner", "host", "organization", "organisation",
                   "store", "local", "wp", "blog", "venue", "facility", "center", "centre", "hospital",
                   "establishment", "account", "tenant"})
_ZONE_WORDS = frozenset({"timezone", "tz", "zone", "time_zone", "zona", "fuseau"})


def _named(column: str, words: frozenset[str]) -> bool:
    return bool(set(name_tokens(column)) & words)


def _zone_column(column: str) -> bool:
    tokens = name_tokens(column)
    return bool(set(tokens) & _ZONE_WORDS) or "timezone" in column.lower() or column.lower().endswith("_tz")


def _all_zones(values: Sequence[str | None]) -> bool:
    seen = [v for v in values if v not in (None, "")]
    if not seen:
        return False
    try:
        for value in seen:
            as_timezone(value)
    except TransformError:
        return False
    return True


def clinic_zone(guesses: Sequence[Guess], unplaced: Sequence[str], samples: Mapping[str, Sequence[str | None]],
                notes: list[str]) -> tuple[list[Guess], list[str]]:
    """``guesses`` with the visit's zone read from the site's column rather than the booker's
    (or left out, said why); ``unplaced`` adjusted to match."""
    current = next((g for g in guesses if g.field == "timezone"), None)
    if current is None or not isinstance(current.spec.get("from"), str) or not _named(current.source, _BOOKER):
        return list(guesses), list(unplaced)
    site = next((c for c in unplaced if _zone_column(c) and _named(c, _SITE) and not _named(c, _BOOKER)
                 and _all_zones(samples.get(c, ()))), None)
    rest = [g for g in guesses if g.field != "timezone"]
    left = [c for c in unplaced if c != site] + [current.source]
    if site is None:
        notes.append(f"timezone: left out, not guessed: {current.source!r} is the zone the booker booked from, not "
                     "the clinic's; the visits are in clinic.timezone")
        return rest, left
    moved = Guess("timezone", site, 0.85, f"name ~ {site!r}: the site's zone, over {current.source!r} (the zone the "
                                          "booker booked from); every sampled value an IANA zone", {"from": site})
    order = [moved if g is current else g for g in guesses]
    return order, left
