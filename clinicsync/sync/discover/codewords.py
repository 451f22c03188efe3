"""The word a coded column stands for: a reference into a dictionary of codes (a concept table)
whose word sits on the code's own row or on its row in force in a table of its versions.

Why: a schema built on a terminology keeps every role, status, kind and use as a key (a UUID)
into one table of concepts, and the concept's mnemonic (``RecordTarget``, ``CANCELLED``,
``MobileContact``) on its version rows, one of them in force. Read as it is, a role column
held keys no word could be read from, so the patient and the doctor were never told apart, the
phone's use never said mobile and the status was a UUID.

The rule, read from the rows, never from a table's name: the column refers to a table (declared
or found by values); the dictionary is that table or a table referring to its key, kept as
versions (history.py: one row in force per code); its word column the text column holding, for
the codes the column uses, one short plain word per code (at most ``MAX_CODES`` of them). A
column whose codes are words already (``CAL_OWNER``) is read as it is. Conditions on the word are
written as subqueries of the dictionary (``IN (SELECT code ... WHERE word = 'RecordTarget')``),
never as lists of the keys read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from clinicsync.sync.discover import history
from clinicsync.sync.discover.graph import Schema, Table, audit
from clinicsync.sync.discover.metarows import literal, plain
from clinicsync.sync.discover.probe import Run

MAX_CODES = 200  # distinct codes a coded column uses
MAX_WORD = 64
_TEXT = re.compile(r"char|text|string|clob", re.I)
_WORD = re.compile(r"[A-Za-z][A-Za-z_ .-]*[0-9]{0,3}")  # a mnemonic: letters first, never a hex or numeric key


@dataclass(frozen=True)
class Words:
    """``table.word`` is the word of the code in ``table.code`` (``current``: the condition over
    ``{a}`` keeping the code's row in force, empty when every code has one row)."""

    table: str
    code: str
    word: str
    current: str
    words: tuple[str, ...]  # the words of the codes the column uses

    def of(self, at: str, quote: Callable[[str], str]) -> str:
        """SQL for the word of the code ``at`` (a column reference)."""
        held = f" AND {self.current.format(a='cs_w')}" if self.current else ""
        return (f"(SELECT MAX(cs_w.{quote(self.word)}) FROM {quote(self.table)} AS cs_w "
                f"WHERE cs_w.{quote(self.code)} = {at}{held})")

    def among(self, at: str, said: Sequence[str], quote: Callable[[str], str]) -> str:
        """SQL true when the code ``at`` stands for one of the words ``said``."""
        held = f" AND {self.current.format(a='cs_w')}" if self.current else ""
        listed = ", ".join(str(literal(w)) for w in said)
        return (f"{at} IN (SELECT cs_w.{quote(self.code)} FROM {quote(self.table)} AS cs_w "
                f"WHERE cs_w.{quote(self.word)} IN ({listed}){held})")


def _word_column(run: Run, quote: Callable[[str], str], schema: Schema, table: Table, code: str, used: str,
                 current: str) -> tuple[str, tuple[str, ...]] | None:
    """The text column of ``table`` holding one plain word per code the column uses (never a
    key of the row, nor a reference to another row: a version's own id is no word)."""
    held = f" AND {current.format(a='cs_w')}" if current else ""
    references = {r.column for r in schema.refs(table.name)}
    for column, type_name in table.columns.items():
        if column == code or column in table.primary_key or column in references or \
                not _TEXT.search(type_name) or audit(column):
            continue
        rows = run(f"SELECT cs_w.{quote(code)}, COUNT(DISTINCT cs_w.{quote(column)}), MAX(cs_w.{quote(column)}) "
                   f"FROM {quote(table.name)} AS cs_w WHERE cs_w.{quote(code)} IN ({used}){held} "
                   f"GROUP BY cs_w.{quote(code)}")
        if not 0 < len(rows) <= MAX_CODES or any(int(r[1] or 0) != 1 for r in rows):
            continue
        said = tuple(str(r[2]) for r in rows)
        if len(set(said)) == len(said) and all(plain(w) and len(w) <= MAX_WORD and _WORD.fullmatch(w) for w in said):
            return column, said
    return None


def words_of(run: Run, quote: Callable[[str], str], schema: Schema, table: Table, column: str) -> Words | None:
    """The words ``table.column``'s codes stand for, or None when it refers to no dictionary."""
    ref = next((r for r in schema.refs(table.name) if r.column == column and r.target in schema.tables), None)
    if ref is None:
        return None
    used = f"SELECT cs_u.{quote(column)} FROM {quote(table.name)} AS cs_u WHERE cs_u.{quote(column)} IS NOT NULL"
    own = run(f"SELECT DISTINCT cs_o.{quote(column)} FROM {quote(table.name)} AS cs_o "
              f"WHERE cs_o.{quote(column)} IS NOT NULL")
    if len(own) <= MAX_CODES and all(_WORD.fullmatch(str(r[0])) for r in own):
        return None  # codes that are words already ('CAL_OWNER'): read as they are
    target = schema.tables[ref.target]
    kept = _word_column(run, quote, schema, target, ref.target_column, used, "")
    if kept is not None:
        return Words(target.name, ref.target_column, kept[0], "", kept[1])
    for child in schema.children(target.name):
        if child.target_column != ref.target_column or child.column in schema.tables[child.table].primary_key:
            continue
        versions = schema.tables[child.table]
        current = history.head_of(run, quote, versions, child.column) or ""
        found = _word_column(run, quote, schema, versions, child.column, used, current)
        if found is not None:
            return Words(versions.name, child.column, found[0], current, found[1])
    return None
