"""Of a party's open contact links, the one a purpose row calls a mobile first.

Why: an ERP gives each of a party's contact links one or more purposes, rows of a purpose table
keyed by the same party and contact and naming a purpose type (``PHONE_MOBILE``, "Main Home
Phone Number"). A patient who added a landline after their mobile has two phone links still
open, and the newest alone would send every reminder to a number no text message reaches. In
North America the numbering plan cannot tell the two apart, so the purpose is the only evidence.
The rule reads the values: the purpose rows' type codes, else the labels of the types they name,
where a word says mobile (common/vocabulary.py). Rejected: a list of purpose codes; the generated
SQL matches the word found as a whole word (``PHONE_CEL``, not ``CANCELLED``), through a subquery
on the type table when only its label says it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from clinicsync.common.vocabulary import MOBILE_WORDS
from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover import history
from clinicsync.sync.discover.graph import Ref, Table, audit
from clinicsync.sync.discover.kinds import TEXT, Builder

SAMPLE = 200  # distinct purpose codes or labels read
_SPLIT = re.compile(r"[^a-z0-9]+")
_SEPARATORS = ("_", "-", ".", "/", ",")  # between a code's words


def _mobile_word(values: Iterable[object]) -> str | None:
    """The first mobile word among the words of ``values`` (``PHONE_MOBILE`` -> ``mobile``)."""
    for value in values:
        if value is None:
            continue
        found = sorted(MOBILE_WORDS.intersection(_SPLIT.split(str(value).lower())))
        if found:
            return found[0]
    return None


def word_in(expr: str, word: str) -> str:
    """SQL true where upper-cased ``expr`` holds ``word`` as a whole word, in any dialect: a short
    mobile word ("cel", "sms") as a substring would also find ``CANCELLED`` or ``EXCEL``. The
    separators a code's words are written with become spaces first (``REPLACE`` is in every
    dialect read; ``||`` and ``CONCAT`` are not)."""
    spaced = expr
    for sep in _SEPARATORS:
        spaced = f"REPLACE({spaced}, '{sep}', ' ')"
    w = word.upper()
    return (f"({spaced} = '{w}' OR {spaced} LIKE '{w} %' OR {spaced} LIKE '% {w}' "
            f"OR {spaced} LIKE '% {w} %')")


def _distinct(builder: Builder, table: str, column: str) -> list[object]:
    q = builder.q
    return [r[0] for r in builder.run(first_rows(f"SELECT DISTINCT {q(column)} FROM {q(table)} WHERE {q(column)} "
                                                 f"IS NOT NULL", SAMPLE, builder.plan.dialect))]


def _says_mobile(builder: Builder, purposes: Table, kind: Ref) -> str | None:
    """SQL true for a purpose row (alias ``cs_p``) whose type says mobile: its code in ``kind``'s
    column, else the label of the type it names; None when no purpose row's type says it."""
    q = builder.q
    word = _mobile_word(_distinct(builder, purposes.name, kind.column))
    if word is not None:
        return word_in(f"UPPER(cs_p.{q(kind.column)})", word)
    types = builder.schema.tables.get(kind.target)
    if types is None:
        return None
    for column, type_name in types.columns.items():
        if column == kind.target_column or not TEXT.search(type_name) or audit(column):
            continue
        word = _mobile_word(_distinct(builder, types.name, column))
        if word is not None:
            return (f"cs_p.{q(kind.column)} IN (SELECT cs_l.{q(kind.target_column)} FROM {q(types.name)} AS cs_l "
                    f"WHERE {word_in(f'UPPER(cs_l.{q(column)})', word)})")
    return None


def mobile_first(builder: Builder, party: Table, target: Table, links: Table, mine: Ref,
                 contact: Ref) -> tuple[str, str] | None:
    """An ORDER BY key ranking a link row (alias ``cs_k``) 0 when a purpose row still open for the
    same party and contact names a mobile, 1 otherwise, and the purpose table's name; None
    without a purpose table whose rows say mobile."""
    schema, q = builder.schema, builder.q
    for name in sorted(schema.tables):
        if name in (party.name, target.name, links.name):
            continue
        refs = schema.refs(name)
        own = next((r for r in refs if r.target == party.name and r.target_column == mine.target_column), None)
        via = next((r for r in refs if r.target == target.name and r.target_column == contact.target_column), None)
        if own is None or via is None:
            continue
        purposes = schema.tables[name]
        for kind in refs:
            if kind.target in (party.name, target.name, links.name):
                continue
            says = _says_mobile(builder, purposes, kind)
            if says is None:
                continue
            ended = history.end_column(purposes)
            still = f" AND {history.current('cs_p', q(ended))}" if ended else ""
            return (f"CASE WHEN EXISTS (SELECT 1 FROM {q(name)} AS cs_p WHERE cs_p.{q(own.column)} = "
                    f"cs_k.{q(mine.column)} AND cs_p.{q(via.column)} = cs_k.{q(contact.column)}{still} AND {says}) "
                    f"THEN 0 ELSE 1 END", name)
    return None
