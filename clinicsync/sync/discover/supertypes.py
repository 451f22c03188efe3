"""A person kept as a supertype row: the table every id points to (a party, a subject, an entity)
holds no name of its own; a second table keyed by a reference to it (its primary key, or a
one-column unique key) holds the person's given and family names.

Why: the diary's people were told by the names of the tables its rows refer to (``patient``,
``doctor``, ``person``). An ERP's calendar refers to a ``party`` (a person or an organisation),
whose name says nothing; its people then counted for nothing, and a contact-method table named
for a contact outranked the visits. The evidence read is the shape: a one-to-one row holding a
name in parts (given and family) makes the row it extends a person's. A sign-in table (a login
keyed by its person) is never that evidence (logins.py): its names are the staff's accounts.
Rejected: a list of supertype names (``party``, ``subject``, ``actor``): another product words
them otherwise.
"""

from __future__ import annotations

import re

from clinicsync.sync.discover.extension import one_per_person
from clinicsync.sync.discover.graph import Ref, Schema
from clinicsync.sync.discover.kinds import name_columns
from clinicsync.sync.discover.logins import holds_logins

PERSON_NAMES = re.compile(r"patient|paciente|customer|client|doctor|medic|provider|practitioner|staff|user|"
                          r"person|persona|profesional|dentist|therapist|demographic|usuario|contact", re.I)


def named_extension(schema: Schema, table: str) -> Ref | None:
    """The reference of a one-to-one extension of ``table`` (a table keyed by its reference to
    it) that holds a person's given and family names, or None."""
    for child in schema.children(table):
        extension = schema.tables.get(child.table)
        if extension is not None and one_per_person(extension, child) and not holds_logins(extension) \
                and name_columns(extension)[1] == "parts":
            return child
    return None


def named_by_extension(schema: Schema, table: str) -> bool:
    """Whether ``table``'s rows are people: a one-to-one extension of it holds their names."""
    return named_extension(schema, table) is not None


def person_table(schema: Schema, name: str) -> bool:
    """Whether a referred table's rows are people: its name says so, or a one-to-one extension
    of it holds a person's names (a party with its person row)."""
    return bool(PERSON_NAMES.search(name)) or named_by_extension(schema, name)
