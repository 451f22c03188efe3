"""A visit withdrawn by its record status, beside the visit's own progress status: a column of
the visit naming a row of a small status lookup table whose word for that row is "removed" or
"deleted" (a trial system's ``status_id`` -> ``status``: 1 available, 5 removed, 7 auto-removed);
or a status column of the visit whose words are only a record's life, blank for a live row and
``void``, ``deleted``, ``hidden``, ``inactive`` for one taken away (a hospital system keeps
``status`` so on every table, beside the appointment's ``appt_status``: ``removed_words``).

Why: such a product never deletes a visit; an admin "removes" it by setting that code, and the
visit's progress status (scheduled) is left as it was. Read as is, a removed visit is imported
as booked and its patient reminded of a visit that no longer exists. No column name says
"deleted" (softdelete.py finds none): the lookup's words say it.

The rule: a reference from the visit (not an audit column) to a table of at most ``MAX_ROWS``
rows, the reference or the table named for a status or state, whose label column holds, for
some whole-number codes, exactly one of the removal words. Those codes are left out of the
query (a NULL code stays: it says nothing). Rejected: matching a word inside a longer label
("removed from waiting list" is a reason, not a removal); reading any lookup (a reason or a
category table's "deleted" row is no record status); mapping the removal to a cancelled
status: the status field is the progress column, and a cancelled visit stays visible to the
desk while a removed one is gone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from clinicsync.common.vocabulary import status_key
from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.graph import Schema, Table, audit
from clinicsync.sync.discover.kinds import TEXT
from clinicsync.sync.discover.vocab import name_tokens, token_role

Run = Callable[[str], list[tuple[Any, ...]]]
MAX_ROWS = 50  # a lookup's rows: a status list is short; a table of visits or people is not
REMOVED = frozenset({"removed", "auto removed", "auto-removed", "deleted", "auto deleted", "purged", "voided"})
_LABEL = re.compile(r"^(name|label|status|state|description|title)$|_?name$", re.I)


def _status_named(name: str) -> bool:
    return any(token_role(t) == "status" for t in name_tokens(name))


def _label(table: Table, key: str) -> str | None:
    return next((c for c, t in table.columns.items() if c != key and _LABEL.search(c) and TEXT.search(t)), None)


def removed_filter(run: Run, schema: Schema, main: Table, quote: Callable[[str], str],
                   dialect: str) -> tuple[str, str] | None:
    """(the SQL condition keeping the visits not removed, a note saying why), or None."""
    for ref in schema.refs(main.name):
        target = schema.tables.get(ref.target)
        if target is None or ref.target == main.name or audit(ref.column) \
                or not (_status_named(ref.column) or _status_named(ref.target)):
            continue
        label = _label(target, ref.target_column)
        if label is None:
            continue
        rows = run(first_rows(f"SELECT {quote(ref.target_column)}, {quote(label)} FROM {quote(ref.target)}",
                              MAX_ROWS + 1, dialect))
        if len(rows) > MAX_ROWS:
            continue
        codes = sorted({int(code) for code, word in rows
                        if isinstance(code, int) and not isinstance(code, bool) and word is not None
                        and status_key(str(word)) in REMOVED})
        if not codes or len(codes) == len(rows):
            continue
        column = f"a.{quote(ref.column)}"
        listed = ", ".join(str(c) for c in codes)
        return (f"({column} IS NULL OR {column} NOT IN ({listed}))",
                f"visits whose {ref.column!r} is {listed} are left out: table {ref.target!r} calls that "
                f"record status removed")
    return None


# A record's life as a record-status column words it: live, or taken away.
LIVE_WORDS = frozenset({"", "normal", "active", "ok", "valid", "visible", "current", "live", "enabled"})
GONE_WORDS = frozenset({"deleted", "void", "voided", "hidden", "inactive", "removed", "purged", "trash", "trashed",
                        "disabled", "archived"})
MAX_WORDS = 20  # distinct words a record-status column holds at most
_PLAIN_TEXT = re.compile(r"char|text|string|clob", re.I)


def removed_words(run: Run, main: Table, quote: Callable[[str], str]) -> tuple[str, str] | None:
    """(the SQL condition keeping the visits whose record status is live, a note saying why), or
    None: a text column of the visit named for a status whose words over the whole table are only
    live ones (blank, ``normal``) and at least one of a record taken away (``GONE_WORDS``), on
    fewer than half of the rows. A progress status (``pending``, ``cancelled``) has other words and
    is never read so. The condition lists every word of ``GONE_WORDS``, not only those seen: a
    record voided tomorrow is left out too."""
    for column, type_name in main.columns.items():
        if not _status_named(column) or audit(column) or not _PLAIN_TEXT.search(type_name):
            continue  # (an enum type's words are the product's own progress states, and TRIM refuses one)
        rows = run(f"SELECT LOWER(TRIM({quote(column)})), COUNT(*) FROM {quote(main.name)} "
                   f"GROUP BY LOWER(TRIM({quote(column)}))")
        if len(rows) > MAX_WORDS:
            continue
        counts = {("" if word is None else str(word)): int(count) for word, count in rows}
        gone = sum(n for w, n in counts.items() if w in GONE_WORDS)
        if not gone or any(w not in LIVE_WORDS | GONE_WORDS for w in counts) or 2 * gone >= sum(counts.values()):
            continue
        quoted = f"a.{quote(column)}"
        listed = ", ".join(f"'{w}'" for w in sorted(GONE_WORDS))
        seen = ", ".join(repr(w) for w in sorted(w for w in counts if w in GONE_WORDS))
        return (f"({quoted} IS NULL OR LOWER(TRIM({quoted})) NOT IN ({listed}))",
                f"visits whose {column!r} is a record taken away ({seen} on {gone} row(s), and the like) are left "
                "out: the column holds a record's life, not the visit's progress")
    return None
