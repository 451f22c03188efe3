"""A visit's reference to "any record": an id column beside a type column that says, row by
row, which table the id is a key of (``parent_id`` + ``parent_type`` 'Contact' / 'Account',
Rails' ``*_id`` + ``*_type``, Odoo's ``res_id`` + ``res_model``).

Why: found by its values, such a column reads as a reference to the person table (most of its
ids are contacts' keys), yet on the rows of another type it holds an account's or a lead's key,
and its name ("parent") is a role in the polymorphism, not a person: followed as the patient,
those visits get a wrong patient and its joined name columns read as a guardian's. When the
visit's link rows name people of that same table (the meeting's attendees), they are the patient,
and the person the reference names on a row of the person's type is ranked first among them: on a
meeting with a companion too, the record the desk filed it under says who the patient is. With
no such link rows (or rows for under half the visits), the reference is the patient only on its
rows of the person's type: joined so, its joined columns named for the person's table, and the
other types' rows (an account's meeting) left out as naming no patient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clinicsync.sync.discover.graph import Ref
from clinicsync.sync.discover.kinds import TEXT, Builder
from clinicsync.sync.discover.polytypes import TYPE_WORDS, names_prefixed
from clinicsync.sync.discover.readplan import stem_of
from clinicsync.sync.discover.typedlinks import literal, type_values
from clinicsync.sync.discover.vocab import name_tokens


@dataclass(frozen=True)
class Polymorphic:
    """A reference column whose sibling ``type_column`` names its table; ``value`` (a SQL
    literal) names the reference's target table."""

    id_column: str
    type_column: str
    value: str

    def names(self, q: Callable[[str], str], person_key: str, visit: str = "a") -> str:
        """A condition true where the visit's reference names the person keyed ``person_key``."""
        return f"({visit}.{q(self.type_column)} = {self.value} AND {visit}.{q(self.id_column)} = {person_key})"


def find(builder: Builder, ref: Ref) -> Polymorphic | None:
    """The polymorphic reading of ``ref`` (a column of the visit's table): its sibling type column
    (the same words, then a type word: ``parent_id`` -> ``parent_type``) holding a value that
    names ``ref``'s target table; None when the column has no such sibling."""
    q = builder.q
    table = builder.schema.tables[ref.table]
    stem = name_tokens(stem_of(ref.column, ""))
    if not stem:
        return None
    for column, type_name in table.columns.items():
        tokens = name_tokens(column)
        if column == ref.column or not TEXT.search(type_name) or tokens[:-1] != stem or tokens[-1] not in TYPE_WORDS:
            continue
        rows = type_values(builder.run, table.name, column, q, builder.plan.dialect)
        if rows is None:
            continue
        for (value,) in rows:
            text = literal(value)
            if value is not None and text is not None and names_prefixed(str(value), ref.target, ref.table):
                return Polymorphic(ref.column, column, text)
    return None
