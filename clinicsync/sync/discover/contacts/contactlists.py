"""A person's phones or emails kept as ONE text column holding a JSON list of contact objects
(``[{"value": "+91 98450 12345", "label": "work"}, {"value": "022 2345 6789", "label": "home"}]``),
as Laravel CRMs (Krayin's ``persons.contact_numbers`` and ``emails``) and many JSON-column schemas
keep them: no contacts table, no phone column. The list's first entry is the number the person
gave first, the second its fallback; each read by a path into the list
(``patient_contact_numbers[0].value``), the connector reading the column's text as JSON.

Which key of the entries holds the contact is read from the values (the one whose values are phone
numbers or emails in the clinic's region), never from its name alone: a list of labels or of
booleans places nothing. A column is looked at only when its name says a contact (``phones``,
``emails``, ``contact_numbers``, ``telecom``) and its declared type is text or JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from typing import Any

from clinicsync.sync.discover.graph import Table
from clinicsync.sync.discover.values import filled, profile
from clinicsync.sync.discover.vocab import name_tokens, token_role

SHARE = 0.8  # of the non-empty sampled values that must be JSON lists of objects
MIN_LISTS = 5
FALLBACKS = 2  # entries read: the first, then the second where the first has none
_TEXT_OR_JSON = re.compile(r"char|text|clob|json|string", re.I)
_CONTACT_WORDS = frozenset({"contact", "contacts", "telecom", "number", "numbers"})
_KINDS = {"phone": "patient.phone", "email": "patient.email"}


def named_columns(person: Table, taken: Collection[str]) -> list[str]:
    """The person's text or JSON columns whose name says a contact, other than ``taken``."""
    out = []
    for column, sql_type in person.columns.items():
        tokens = name_tokens(column)
        if column in taken or not _TEXT_OR_JSON.search(sql_type or ""):
            continue
        if {token_role(t) for t in tokens} & {"phone", "email"} or set(tokens) & _CONTACT_WORDS:
            out.append(column)
    return out


def _entries(value: str | None) -> list[dict[str, Any]] | None:
    if value is None or value.lstrip()[:1] != "[":
        return None
    try:
        items = json.loads(value)
    except ValueError:
        return None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return None
    return items


def organizer_first(values: Sequence[str | None]) -> int:
    """1 when the lists' first entry is the organizer, not a guest: a key of the entries whose
    value says so (``"role": "ORGANIZER"``, chair, host, owner) on at least ``SHARE`` of the first
    entries and on none of the others (a calendar's attendee list, as iCalendar writes it, names
    the diary's owner first: the doctor, never the patient); else 0."""
    lists = [e for e in map(_entries, filled(values)) if e]
    if len(lists) < MIN_LISTS:
        return 0
    def organizer(entry: dict[str, Any]) -> bool:
        return any(isinstance(v, str) and v.strip().lower() in _ORGANIZER for v in entry.values())
    heads = sum(organizer(e[0]) for e in lists)
    later = sum(organizer(x) for e in lists for x in e[1:])
    return 1 if heads >= SHARE * len(lists) and not later else 0


_ORGANIZER = frozenset({"organizer", "organiser", "chair", "host", "owner"})


def contact_field(values: Sequence[str | None], region: str) -> tuple[str, str, str] | None:
    """(field, key, why) when most sampled values are JSON lists of objects whose ``key`` holds
    phone numbers (``patient.phone``) or emails (``patient.email``) on most first entries (the
    first after the organizer, ``organizer_first``); else None."""
    present = filled(values)
    skip = organizer_first(values)
    lists = [e for e in map(_entries, present) if e is not None]
    firsts = [e[skip] for e in lists if len(e) > skip]
    if len(firsts) < MIN_LISTS or len(lists) < SHARE * len(present):
        return None
    keys = list(dict.fromkeys(k for item in firsts for k, v in item.items() if isinstance(v, str)))
    for key in keys:
        read = profile([item.get(key) if isinstance(item.get(key), str) else None for item in firsts], region)
        for kind, field in _KINDS.items():
            if read.present >= SHARE * len(firsts) and read.share(kind) >= SHARE:
                entries = "first" if not skip else "first entries after the organizer's (the"
                why = (f"{len(lists)} of {len(present)} sampled values are JSON lists; key {key!r} of their {entries} "
                       f"{'entries' if not skip else 'doctor)'}: {round(100 * read.share(kind))}% of {read.present} "
                       f"are {'phone numbers' if kind == 'phone' else 'emails'}; the next entry where that has none")
                return field, key, why
    return None


def paths(column: str, key: str, skip: int = 0) -> list[str]:
    """The mapping paths of the first ``FALLBACKS`` entries' ``key`` in ``column``, after ``skip``."""
    return [f"{column}[{n}].{key}" for n in range(skip, skip + FALLBACKS)]


def name_key(values: Sequence[str | None], skip: int, contact: str) -> str | None:
    """The entries' key that names the person beside their ``contact`` key (``name``, ``cn``):
    named so, and filled on at least ``SHARE`` of the entries read, with words, not contacts."""
    entries = [e[skip] for e in map(_entries, filled(values)) if e is not None and len(e) > skip]
    for key in dict.fromkeys(k for e in entries for k in e):
        if key == contact or not any(token_role(t) == "name" for t in name_tokens(key)):
            continue
        named = [e.get(key) for e in entries if isinstance(e.get(key), str) and str(e.get(key)).strip()]
        if len(named) >= SHARE * len(entries) and not any("@" in str(v) for v in named):
            return key
    return None
