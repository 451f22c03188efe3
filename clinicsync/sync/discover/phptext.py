"""Why the patient is left out when a visit's people sit in PHP-serialized text.

PHP calendars and booking tools keep a visit's attendees as ``serialize()`` of their objects in
one text column (``a:1:{s:22:"ana@example.com";O:18:"Attendee":5:{s:1:"e";...}}``): the patient's
name and email are there, in a form the connector does not read (it reads JSON text,
jsontext.py). Before, such a column was only listed as not placed, and the admin was not told
that the patient's name and email were in it. The rule: a not-placed text column of the visit
whose sampled values are mostly PHP-serialized structures, some holding an email, is named in a
note for each patient field left without a column. Rejected: reading the structure at discover
time only, which would propose fields the connector could not fill at sync time."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.values import filled

_SERIALIZED = re.compile(r"^(?:a|O|C):\d+:[{\"]")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
SHARE = 0.8  # of a column's non-empty sampled values that must be serialized structures
FIELDS = ("patient.name", "patient.email")


def notes(guesses: Sequence[Guess], unplaced: Sequence[str], texts: Mapping[str, Sequence[str | None]],
          own: Collection[str]) -> list[str]:
    """One note per patient field no guess fills, naming the visit's own not-placed columns of
    PHP-serialized structures with emails inside; [] when there is none."""
    missing = [f for f in FIELDS if not any(g.field == f for g in guesses)]
    if not missing:
        return []
    found = []
    for column in unplaced:
        if column not in own:
            continue
        present = filled(texts.get(column, ()))
        serialized = [v for v in present if _SERIALIZED.match(v.strip())]
        if present and len(serialized) >= SHARE * len(present) and any(_EMAIL.search(v) for v in serialized):
            found.append(f"{column!r} ({len(serialized)} of {len(present)} sampled values)")
    if not found:
        return []
    where = ", ".join(found)
    return [f"{field}: left out: {where} holds PHP-serialized structures (serialize()) with emails inside, "
            "which the connector does not read (JSON text only); map it by hand from a column or view that "
            "keeps it plainly" for field in missing]
