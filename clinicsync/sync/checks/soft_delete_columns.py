"""Soft-delete flags the SQL connector's query leaves out: `check`'s look at the source's tables.

The plausibility profile finds rows marked deleted among the visits only when the query returns
the flag. A query that never names it (``SELECT a.id, a.start … FROM appointments a JOIN
patients p …`` beside ``appointments.APT_ACTIVE`` and ``patients.PAT_DELETED``), or selects the
flag but filters nothing on it, imports the withdrawn visits, and a deleted patient's, as live. So for
each table the query reads that owns the visit — the appointment table it reads FROM and the
patient's (or person's) tables it joins (common/soft_delete.py ``owns_visits``; a retired doctor
or service keeps its visits) — the columns whose names say deleted
(common/soft_delete.py ``meaning``, table-prefixed names too) that no condition of the query
names are counted: any such column that marks rows deleted today fails `check`, naming the table, the
column, the count and the condition. Only names and counts are reported, never a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, column, func, inspect, select, table
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.common.soft_delete import meaning, owns_visits
from clinicsync.connectors.base import Connector
from clinicsync.connectors.sql_session import read_only_connection
from clinicsync.sync.ingest.plausibility.finding import Finding
from clinicsync.sync.ingest.plausibility.soft_deleted import deleted_by, keep_clause

_KINDS = {"gone": "flag", "gone_at": "stamp", "alive": "active"}
MAX_VALUES = 50  # distinct values of a flag read; a column with more is no flag


@dataclass(frozen=True)
class Unfiltered:
    """A soft-delete column the query leaves out, with `check`'s finding about it."""

    column: str
    finding: Finding


@dataclass(frozen=True)
class _Read:
    """A table the query reads: its name (and schema), the alias it goes by, whether it is FROM."""

    name: str
    schema: str | None
    aliases: frozenset[str]
    main: bool


def _tables(sql: str, dialect: str | None) -> tuple[list[_Read], set[tuple[str | None, str]]]:
    """The tables the query reads and the columns that decide something in it (named in WHERE,
    JOIN … ON, or inside a selected expression such as a CASE that makes the status), each
    ``(qualifier or None, name)``, lower-cased; ([], set()) when the query cannot be read. A
    flag only selected as it is filters nothing: its rows come in as live visits all the same
    (the plausibility profile names those)."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        return [], set()
    source = tree.args.get("from") or tree.args.get("from_")
    main = source.find(exp.Table) if source is not None else None
    found: dict[tuple[str, str | None], set[str]] = {}
    for node in tree.find_all(exp.Table):
        key = (node.name, node.db or None)
        found.setdefault(key, set()).update({node.alias_or_name.lower(), node.name.lower()})
    reads = [_Read(name, schema, frozenset(aliases), main is not None and main.name == name)
             for (name, schema), aliases in found.items()]
    conditions = [node for node in (*tree.find_all(exp.Where), *(j.args.get("on") for j in tree.find_all(exp.Join)))
                  if node is not None]
    for statement in tree.find_all(exp.Select):  # a flag inside an expression decides (Odoo: CASE WHEN e.active …)
        for projection in statement.expressions:
            inner = projection.this if isinstance(projection, exp.Alias) else projection
            if not isinstance(inner, exp.Column | exp.Star):
                conditions.append(inner)
    named = {(c.table.lower() or None, c.name.lower()) for node in conditions for c in node.find_all(exp.Column)}
    return reads, named


def _named(read: _Read, column_name: str, named: set[tuple[str | None, str]]) -> bool:
    lower = column_name.lower()
    return any(name == lower and (qualifier is None or qualifier in read.aliases) for qualifier, name in named)


def _marked(connection: Connection, read: _Read, column_name: str, kind: str) -> int:
    """Rows of the table the column marks deleted now (0 when it cannot tell)."""
    where = table(read.name, column(column_name), schema=read.schema)
    flag = where.c[column_name]
    if kind == "stamp":
        return int(connection.execute(select(func.count()).select_from(where).where(flag.is_not(None))).scalar() or 0)
    rows = connection.execute(select(flag, func.count()).select_from(where).group_by(flag).limit(MAX_VALUES + 1))
    values = rows.all()
    if len(values) > MAX_VALUES:
        return 0
    return sum(int(count) for value, count in values if deleted_by({column_name: value}, ((column_name, kind),)))


def left_out(connector: Connector) -> list[Unfiltered]:
    """The SQL connector's query's soft-delete flags left out (see the module); [] for any
    other connector, a ``table:`` read (every column returned: the profile sees them) or a
    source whose tables cannot be read."""
    settings: Any = connector.settings
    if connector.kind != "sql" or getattr(settings, "table", None):
        return []
    sql = settings.preset.query if settings.preset else settings.query
    engine = getattr(connector, "engine", None)
    if not isinstance(sql, str) or engine is None:
        return []
    from clinicsync.connectors.sql_guard import sqlglot_dialect

    reads, named = _tables(sql, sqlglot_dialect(engine.dialect.name))
    found: list[Unfiltered] = []
    try:
        with read_only_connection(engine, settings.timeout, connector.name) as connection:
            inspector = inspect(connection)
            for read in reads:
                if not (read.main or owns_visits(read.name)):
                    continue
                columns = [str(c["name"]) for c in inspector.get_columns(read.name, schema=read.schema)]
                for name in columns:
                    said = meaning(name, columns)
                    if said is None or _named(read, name, named):
                        continue
                    count = _marked(connection, read, name, _KINDS[said])
                    if count:
                        found.append(Unfiltered(name, _finding(read, name, count, columns)))
    except SQLAlchemyError:
        return found
    return found


def _finding(read: _Read, column_name: str, count: int, columns: list[str]) -> Finding:
    whose = "these visits" if read.main else f"the visits of these {read.name} rows"
    return Finding("soft_deleted", "error", "status",
                   f"status: `{read.name}.{column_name}` marks {count} row(s) of {read.name} deleted, and the "
                   f"connector's query neither reads nor filters on it: {whose} would be imported as live and "
                   f"reminded. Add the condition to the query's WHERE, on {read.name}'s alias "
                   f"({keep_clause(column_name, columns)})")
