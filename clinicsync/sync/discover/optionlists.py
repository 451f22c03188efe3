"""Codes whose words live in one shared list table.

Why: many products keep a visit's status, its kind and a link row's role as small numbers whose
labels are rows of ONE option table keyed by (list, code) — CiviCRM's ``civicrm_option_value``
(``option_group_id`` -> ``civicrm_option_group.name`` 'activity_status', ``value``, ``label``),
OpenEMR's ``list_options`` (``list_id``, ``option_id``, ``title``). No key points from the code
column to that table (the code alone is no key: '1' is in every list), so the code reads as an
unknown number and the admin types every word by hand. Read here: every list of such a table, and
the one list that covers a code column's values, chosen by what its labels say (status words,
role words) and, among several that fit, by the list's name sharing a word with the column or
table (``status_id`` <-> 'activity_status').
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.graph import Ref, Schema, Table
from clinicsync.sync.discover.kinds import TEXT, stems
from clinicsync.sync.discover.probe import Run

MAX_OPTIONS = 5000  # rows read from one option table: a list table is small
_CODE = ("value", "option_id", "option_value", "code")
_LABEL = ("label", "title", "name", "description")
_GROUP = re.compile(r"(^|_)(list|group|option_group|list_name)(_?(id|name))?$", re.I)
_IGNORED = frozenset({"id", "cd", "code", "value", "option", "options", "list", "group"})


@dataclass(frozen=True)
class OptionList:
    """One list of an option table: its name and each code's words (label first, then name)."""

    table: str
    group: str
    labels: dict[str, tuple[str, ...]]

    def words_of(self, code: str) -> tuple[str, ...]:
        """A code's words, or none for a code the list does not hold."""
        return self.labels.get(code, ())


def _stems(name: str) -> set[str]:
    """A name's words as references compare them (kinds.stems), without the words every code column carries."""
    return stems(name) - _IGNORED


def _shape(schema: Schema, table: Table) -> tuple[str, str, list[str], Ref | None, str | None] | None:
    """An option table's (group column, code column, label columns, its reference to the lists'
    table and that table's name column): a code column, text labels, and a column naming the list
    — a reference to a table of lists whose ``name`` is the list's name (``option_group_id``), else
    a text column holding the name itself (``list_id``)."""
    lower = {c.lower(): c for c in table.columns}
    code = next((lower[c] for c in _CODE if c in lower), None)
    labels = [lower[c] for c in _LABEL if c in lower and TEXT.search(table.columns[lower[c]])]
    if code is None or not labels:
        return None
    for ref in schema.refs(table.name):
        target = schema.tables.get(ref.target)
        if ref.column == code or target is None or ref.target == table.name:
            continue
        named = next((c for c in target.columns if c.lower() == "name" and TEXT.search(target.columns[c])), None)
        if named is not None:
            return ref.column, code, labels, ref, named
    group = next((c for c in table.columns if _GROUP.search(c) and TEXT.search(table.columns[c])), None)
    return (group, code, labels, None, None) if group is not None and group != code else None


def option_lists(schema: Schema, run: Run, quote: Callable[[str], str], dialect: str) -> list[OptionList]:
    """Every list of every option table in ``schema`` (a table of (list, code, label) rows)."""
    found: list[OptionList] = []
    for table in schema.tables.values():
        shape = _shape(schema, table)
        if shape is None:
            continue
        group, code, labels, ref, named = shape
        q = quote
        texts = ", ".join(f"o.{q(c)}" for c in labels)
        if ref is None or named is None:
            sql = f"SELECT o.{q(group)}, o.{q(code)}, {texts} FROM {q(table.name)} AS o"
        else:
            sql = (f"SELECT g.{q(named)}, o.{q(code)}, {texts} FROM {q(table.name)} AS o JOIN {q(ref.target)} AS g "
                   f"ON g.{q(ref.target_column)} = o.{q(group)}")
        lists: dict[str, dict[str, tuple[str, ...]]] = {}
        for row in run(first_rows(sql, MAX_OPTIONS, dialect)):
            if row[0] is None or row[1] is None:
                continue
            said = tuple(str(t).strip() for t in row[2:] if t is not None and str(t).strip())
            lists.setdefault(str(row[0]), {})[str(row[1]).strip()] = said
        found += [OptionList(table.name, name, codes) for name, codes in lists.items()]
    return found


def choose(lists: Iterable[OptionList], column: str, table: str, values: Iterable[str],
           fits: Callable[[Sequence[tuple[str, ...]]], bool]) -> OptionList | None:
    """The one list whose codes cover every one of ``values`` and whose labels ``fits`` (status
    words, role words); among several, the one whose name shares the most words with the column,
    then with the table; None when none fits or two tie (not guessed)."""
    wanted = {v.strip() for v in values if v is not None and v.strip()}
    if not wanted:
        return None
    covering = [o for o in lists if wanted <= set(o.labels) and fits([o.labels[v] for v in sorted(wanted)])]
    if len(covering) <= 1:
        return covering[0] if covering else None
    own, where = _stems(column), _stems(table)

    def shared(option: OptionList) -> tuple[int, int]:
        name = _stems(option.group)
        return len(name & own), len(name & where)
    ranked = sorted(covering, key=shared, reverse=True)
    return ranked[0] if shared(ranked[0]) > shared(ranked[1]) else None
