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


def contact_field(values: Sequence[str | None], region: str) -> tuple[str, str, str] | None:
    """(field, key, why) when most sampled values are JSON lists of objects whose ``key`` holds
    phone numbers (``patient.phone``) or emails (``patient.email``) on most first entries; else None."""
    present = filled(values)
    lists = [e for e in map(_entries, present) if e is not None]
    firsts = [e[0] for e in lists if e]
    if len(firsts) < MIN_LISTS or len(lists) < SHARE * len(present):
        return None
    keys = list(dict.fromkeys(k for item in firsts for k, v in item.items() if isinstance(v, str)))
    for key in keys:
        read = profile([item.get(key) if isinstance(item.get(key), str) else None for item in firsts], region)
        for kind, field in _KINDS.items():
            if read.present >= SHARE * len(firsts) and read.share(kind) >= SHARE:
                why = (f"{len(lists)} of {len(present)} sampled values are JSON lists; key {key!r} of their first "
                       f"entries: {round(100 * read.share(kind))}% of {read.present} are "
                       f"{'phone numbers' if kind == 'phone' else 'emails'}; the second entry where the first has none")
                return field, key, why
    return None


def paths(column: str, key: str) -> list[str]:
    """The mapping paths of the first ``FALLBACKS`` entries' ``key`` in ``column``."""
    return [f"{column}[{n}].{key}" for n in range(FALLBACKS)]
