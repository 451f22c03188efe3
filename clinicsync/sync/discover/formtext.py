"""A form's fields kept as one text column: items joined by one character, each item the field's
name and its value joined by another (Booking Calendar's ``form``:
``text^name1^Sophia~text^secondname1^Robinson~text^email1^...~text^phone1^...``, the field's
type first; a query string's ``name=Sophia&phone=...``).

Why: the person who booked — their name, email and phone — is nowhere else, so the visit was
read with no patient and nobody could be reminded. Each field named on the sampled rows is read
as a column of its own: the text between ``^name1^`` and the next ``~`` (one expression per
field, in the database: MariaDB's SUBSTRING_INDEX, PostgreSQL's split_part, SQLite's instr and
substr), named by the field's name without the digits a form numbers it with (``name1`` of
resource 1, ``name2`` of resource 2 -> ``name``, the first that is there), and placed by the
scorer like any column: by that name and by its values.

Known by its shape on the sampled rows, never by a column's name: at least 80 % of the non-empty
values split into three items or more on one separator, each item into two parts or more on
another, the same field names recurring. JSON is jsontext.py's; a serialized PHP structure is
no form (values.py). Rejected: reading the text in Python after the fetch (the mapping reads
columns; the query must hand it the fields).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from clinicsync.sync.discover.columns import ColumnSample
from clinicsync.sync.discover.readplan import ReadPlan
from clinicsync.sync.discover.values import filled

ITEMS = "~|\n;&"  # what joins a form's items
PARTS = "^=:"  # what joins an item's parts (the field's type, its name, its value)
MIN_ITEMS = 3
SHARE = 0.8
MAX_FIELDS = 24
_NUMBERED = re.compile(r"\d+$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,40}$")


def shape(values: Sequence[str | None]) -> tuple[str, str, int] | None:
    """(item separator, part separator, parts per item) of form text, or None."""
    texts = filled(values)
    if len(texts) < 2 or any(v.lstrip().startswith(("{", "[", "a:", "O:")) for v in texts):
        return None
    for item in ITEMS:
        for part in PARTS:
            widths: Counter[int] = Counter()
            fits = 0
            for text in texts:
                items = [i for i in text.split(item) if i]
                if len(items) < MIN_ITEMS:
                    continue
                split = [i.split(part) for i in items]
                if all(len(p) >= 2 and _NAME.match(p[-2]) for p in split):
                    fits += 1
                    widths.update(len(p) for p in split)
            if fits >= SHARE * len(texts) and widths:
                return item, part, widths.most_common(1)[0][0]
    return None


def fields(values: Sequence[str | None], item: str, part: str) -> dict[str, tuple[list[str], list[str | None]]]:
    """Each field's stem -> (its names as written, most used first; its value on each row)."""
    names: dict[str, Counter[str]] = {}
    rows: list[dict[str, str]] = []
    for text in values:
        found: dict[str, str] = {}
        for piece in (text or "").split(item):
            parts = piece.split(part)
            if len(parts) >= 2 and _NAME.match(parts[-2]):
                stem = _NUMBERED.sub("", parts[-2]) or parts[-2]
                names.setdefault(stem, Counter())[parts[-2]] += 1
                found.setdefault(stem, parts[-1])
        rows.append(found)
    out: dict[str, tuple[list[str], list[str | None]]] = {}
    for stem, counted in sorted(names.items(), key=lambda kv: -sum(kv[1].values()))[:MAX_FIELDS]:
        out[stem] = ([n for n, _ in counted.most_common()], [r.get(stem) or None for r in rows])
    return out


def extract(column: str, name: str, item: str, part: str, width: int, dialect: str) -> str | None:
    """The SQL that reads field ``name``'s value out of ``column`` (NULL when the row has none)."""
    if width >= 3:  # type^name^value: the name between two part separators
        hay, needle = column, f"{part}{name}{part}"
    else:  # name=value: the name after an item separator (the text prefixed with one)
        hay, needle = None, f"{item}{name}{part}"
    lit = "'" + needle.replace("'", "''") + "'"
    sep = "'" + item.replace("'", "''").replace("\n", "' || CHR(10) || '") + "'"
    if dialect in ("mysql", "mariadb"):
        sep = "'" + item.replace("'", "''").replace("\n", "\\n") + "'"
        text = hay or f"CONCAT({sep}, {column})"
        return (f"CASE WHEN LOCATE({lit}, {text}) > 0 THEN "
                f"SUBSTRING_INDEX(SUBSTRING_INDEX({text}, {lit}, -1), {sep}, 1) END")
    if dialect == "postgresql":
        text = hay or f"({sep} || {column})"
        return f"NULLIF(split_part(split_part({text}, {lit}, 2), {sep}, 1), '')"
    if dialect == "sqlite":
        if item == "\n":
            return None
        text = hay or f"({sep} || {column})"
        rest = f"substr({text}, instr({text}, {lit}) + length({lit}))"
        return (f"CASE WHEN instr({text}, {lit}) > 0 THEN CASE WHEN instr({rest}, {sep}) > 0 THEN "
                f"substr({rest}, 1, instr({rest}, {sep}) - 1) ELSE {rest} END END")
    return None


def placed(plan: ReadPlan, samples: Sequence[ColumnSample]) -> list[ColumnSample]:
    """The fields of each form text column of ``samples`` (the plan's outputs), each selected by
    the plan as a column of its own; their samples, for the scorer."""
    out: list[ColumnSample] = []
    for sample in samples:
        if sample.name not in plan.select or not re.search(r"char|text|clob|string", sample.type or "", re.I):
            continue
        found = shape(sample.values)
        if found is None:
            continue
        item, part, width = found
        column = plan.select[sample.name]
        for stem, (names, values) in fields(sample.values, item, part).items():
            reads = [e for n in names if (e := extract(column, n, item, part, width, plan.dialect)) is not None]
            if not reads:
                continue
            sql = reads[0] if len(reads) == 1 else f"COALESCE({', '.join(reads)})"
            name = plan.expr(sql, stem, plan.tables_of[sample.name], "TEXT")
            out.append(ColumnSample(name, "TEXT", values, sample.table, sample.prefixes))
    return out
