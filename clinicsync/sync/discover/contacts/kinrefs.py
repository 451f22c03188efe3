"""Contact rows that name whose they are through a key into a lookup table: a contact table's
``relationship_id`` pointing at a row of relationship words ('Mother', 'Spouse', 'Self'), kept in
a table of its own or in a lookup table shared by many kinds and told apart by a type column.

Why: a relationship kept as a key says nothing by its name or its type (kinship.py reads a text
column); only the words of the rows it points at tell that the numbers are a mother's or a
spouse's. When those words are kin words the table is someone else's contacts, its phones and
emails never the patient's; when some of them mean the patient (``self``), only those rows are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from clinicsync.common.names import name_words
from clinicsync.common.vocabulary import MOBILE_WORDS
from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.contacts import kinship
from clinicsync.sync.discover.graph import Schema, Table, audit
from clinicsync.sync.discover.kinds import TEXT, Run

_WORD = re.compile(r"name|code|label|description|display|title|value|nombre|descripcion", re.I)
_TYPE = re.compile(r"^(type|kind|category|group|domain|list|tipo)(_?(name|code))?$", re.I)
_SAFE = re.compile(r"[\w ./+-]{1,64}")  # a looked-up word as an SQL literal: no quote, no colon
SELF = frozenset({"self", "patient", "own", "myself", "selbst", "propio", "propia", "titular", "yo"})
# Words of a kind of number or address ('Home', 'Mobile', 'Email'): a lookup holding them types
# the rows by what they hold (an 'Emergency' kind beside them is left to kinship.others_code).
MEANS = MOBILE_WORDS | {"home", "work", "office", "business", "fax", "email", "mail", "phone", "telephone",
                        "landline", "pager", "address", "postal"}
KIN_SHARE = 0.5  # of the looked-up rows, those naming kin or self, for the lookup to be of relationships
ROWS = 500  # lookup rows read


@dataclass(frozen=True)
class KinRef:
    """A contact table's key into a lookup table of relationship words: the column, the lookup
    (table, key, the word columns read), the kin words found and, where some rows mean the
    patient, each word column's values that do (the rows kept)."""

    column: str
    target: str
    target_column: str
    kin: tuple[str, ...]
    own: tuple[tuple[str, tuple[str, ...]], ...]

    def condition(self, alias: str, quote: Callable[[str], str]) -> str | None:
        """SQL keeping only the patient's own rows (over ``alias``), by a subquery on the lookup's
        words (never a list of its ids); None when no row is the patient's: the whole table is
        someone else's."""
        said = ["LOWER(" + quote(c) + ") IN (" + ", ".join("'" + v + "'" for v in values) + ")"
                for c, values in self.own]
        if not said:
            return None
        return (f"{alias}.{quote(self.column)} IN (SELECT {quote(self.target_column)} FROM {quote(self.target)} "
                f"WHERE {' OR '.join(said)})")

    def describe(self) -> str:
        """What is left out, for a proposal's reason."""
        kin = ", ".join(repr(w) for w in self.kin[:4])
        if not self.own:
            return (f"{self.column!r} -> {self.target!r} names a relationship ({kin}): someone else's contacts, "
                    "none of them the patient's")
        own = ", ".join(repr(v) for v in sorted({v for _, values in self.own for v in values}))
        return f"rows of other people left out ({self.column!r} -> {self.target!r}: only {own}, not {kin})"


def find(run: Run, quote: Callable[[str], str], schema: Schema, table: Table, skip: str,
         dialect: str) -> KinRef | None:
    """The key of ``table`` (not ``skip``, its reference to the person) into a lookup table whose
    rows' words are relationship words, or None. A lookup shared by many kinds (a ``type``
    column) is read for the kinds ``table``'s rows point at only."""
    kin_words = kinship.OTHERS_CODE  # kinship's relatives and the shared vocabulary, never 'other'
    for ref in schema.refs(table.name):
        if ref.column == skip or audit(ref.column) or ref.target == table.name:
            continue
        lookup = schema.tables.get(ref.target)
        if lookup is None:
            continue
        word_columns = [c for c, t in lookup.columns.items() if _WORD.search(c) and TEXT.search(t)
                        and not _TYPE.match(c) and c != ref.target_column]
        if not word_columns:
            continue
        q = quote
        where = ""
        kind = next((c for c, t in lookup.columns.items() if _TYPE.match(c) and TEXT.search(t)), None)
        if kind is not None:  # the kinds the contact rows point at, and all the rows of those kinds
            where = (f" WHERE {q(kind)} IN (SELECT cs_l.{q(kind)} FROM {q(lookup.name)} AS cs_l JOIN "
                     f"{q(table.name)} AS cs_c ON cs_c.{q(ref.column)} = cs_l.{q(ref.target_column)})")
        used = (f"CASE WHEN EXISTS (SELECT 1 FROM {q(table.name)} AS cs_u WHERE cs_u.{q(ref.column)} = "
                f"{q(lookup.name)}.{q(ref.target_column)}) THEN 1 ELSE 0 END")  # a row some contact names
        rows = run(first_rows(f"SELECT {used}, {', '.join(q(c) for c in word_columns)} FROM {q(lookup.name)}{where}",
                              ROWS, dialect))
        if not rows:
            continue
        kin: list[str] = []
        own: dict[str, set[str]] = {}
        related = 0
        for named, *row in rows:
            said = {w for value in row if value is not None for w in name_words(str(value))}
            if said & MEANS:
                break  # kinds of numbers, not relationships
            if said & kin_words:  # 'Mother of the patient' is the mother
                related += 1
                kin += [str(next(v for v in row if v is not None))] if named else []
            elif said & SELF:
                related += 1
                for column, value in zip(word_columns, row, strict=True):
                    text = None if value is None else str(value).lower()
                    if named and text is not None and _SAFE.fullmatch(text) and set(name_words(text)) & SELF:
                        own.setdefault(column, set()).add(text)
        else:
            if not kin or related < KIN_SHARE * len(rows):
                continue
            return KinRef(ref.column, lookup.name, ref.target_column, tuple(sorted(kin)),
                          tuple((c, tuple(sorted(v))) for c, v in own.items()))
    return None
