"""How a PostgreSQL database lays out its tables, for discover: in a schema of their own, and
split into partitions.

A database whose application keeps its tables in a schema of its own (`practice`,
`app`, `clinic`) rather than in the login's default one (`public`): SQLAlchemy's reflection and
an unqualified query read only the default schema, so discover found "no table with dates" and
the admin had no way to say where to look.

The schema is chosen once, before anything else is read: the one the admin names with
``--table schema.table``, else, when the default schema holds no table named like appointments,
the schema that holds the most such tables (a tie asks). It goes on the search path through the
URL's ``options`` (libpq's ``-c search_path=…``), not a ``SET`` in discover's session: the
connector opens its own connections from the URL written to the settings file, and each of them
must read the same tables; unqualified names in the proposed query keep working. A URL that
already sets a search path is the admin's choice and is left as it is.

A partitioned table (``PARTITION BY RANGE``, or the older ``INHERITS`` children) lists its
partitions beside it, each with the parent's columns and a share of its rows: discover saw three
tables alike and asked which one, or would have read one year of visits. A partition or child is
never a candidate; the parent, which reads them all, is.

Tables split over several schemas (visits in ``scheduling``, patients in ``people``, doctors in
``staff``): the search path lists, after the visits' schema, every schema its tables' declared
foreign keys reach (followed from schema to schema); when the visits' schema is not the login's
default, the other schemas that hold tables come last, so a reference found by its values or its
name (valuerefs.py, graph.py) can reach them too. discover reads the tables of every schema on
the path as one (``PathInspector``; a name in two schemas is the first one's, as an unqualified
name resolves), and the URL written keeps only the schemas whose tables the proposed query reads
(``used_schemas``). A schema whose name needs quoting (``"People"``) is written quoted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from clinicsync.sync.discover.sql_reading import DiscoverError, reading, run_checked

# A schema name that needs no quoting on libpq's options line (no space, quote or capital).
_PLAIN = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_TABLES = ("SELECT table_schema, table_name FROM information_schema.tables "
           "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg\\_%' "
           "AND table_schema <> current_schema()")
_CHILDREN = ("SELECT c.relname, p.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
             "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = c.relnamespace "
             "WHERE n.nspname = current_schema()")
_DEFAULT_HAS_ONE = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
# Declared foreign keys from a table of one schema to a table of another.
_ACROSS = ("SELECT DISTINCT cn.nspname, fn.nspname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
           "JOIN pg_namespace cn ON cn.oid = c.relnamespace JOIN pg_class f ON f.oid = k.confrelid "
           "JOIN pg_namespace fn ON fn.oid = f.relnamespace WHERE k.contype = 'f' AND cn.nspname <> fn.nspname")
_HOLDING = ("SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_schema NOT IN "
            "('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg\\_%' ORDER BY table_schema")


@dataclass(frozen=True)
class SchemaChoice:
    """The URL to read (and write to the settings file), the table the admin named without its
    schema, and what the proposal says of the choice (None when nothing changed)."""

    url: str
    table: str | None
    note: str | None = None
    # every schema read, in search-path order (the visits' first); empty when the URL is the given one
    schemas: tuple[str, ...] = field(default=())


def sets_search_path(url: str) -> bool:
    options = make_url(url).query.get("options", "")
    text = " ".join(options) if isinstance(options, tuple) else options
    return "search_path" in text


def path_entry(schema: str) -> str:
    """``schema`` as a search_path entry: as it is when plain, else double-quoted (a quote
    doubled), so ``People`` stays ``People`` and is not folded to lower case."""
    return schema if _PLAIN.fullmatch(schema) else '"' + schema.replace('"', '""') + '"'


def with_search_path(url: str, schemas: str | Sequence[str]) -> str:
    """``url`` with ``schemas`` on the search path, in order, beside any options it already
    sets. libpq splits ``options`` at spaces: a space or backslash in a name is escaped."""
    listed = [schemas] if isinstance(schemas, str) else list(schemas)
    path = ",".join(path_entry(s) for s in listed).replace("\\", "\\\\").replace(" ", "\\ ")
    parsed = make_url(url)
    before = parsed.query.get("options", "")
    before = " ".join(before) if isinstance(before, tuple) else before
    options = f"{before.strip()} -csearch_path={path}".strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def reached(connection: Connection, first: str) -> list[str]:
    """The schemas the declared foreign keys of ``first``'s tables reach, followed from schema to
    schema, nearest first (``first`` not included)."""
    edges: dict[str, list[str]] = {}
    for source, target in run_checked(connection, _ACROSS):
        edges.setdefault(str(source), []).append(str(target))
    seen = [first]
    for schema in seen:  # grows while it is walked: breadth first
        seen += [t for t in sorted(edges.get(schema, [])) if t not in seen]
    return seen[1:]


def _path(connection: Connection, first: str, others: bool) -> tuple[str, ...]:
    """``first``, the schemas its foreign keys reach, and (``others``) every other schema that
    holds a table."""
    path = [first, *reached(connection, first)]
    if others:
        path += [str(s) for (s,) in run_checked(connection, _HOLDING) if str(s) not in path]
    return tuple(path)


def _across_note(path: Sequence[str]) -> str:
    return (f"the visits' tables refer to tables in other schemas: the search path lists "
            f"{', '.join(map(repr, path))} (options=-csearch_path), each schema the query reads")


def choose_schema(url: str, table: str | None, timeout: float,
                  looks_like_visits: Callable[[str], object]) -> SchemaChoice:
    """Where a PostgreSQL database keeps its tables, as a URL to read them by (see the module's
    docstring); any other database, or a URL with its own search path, is returned as given."""
    if make_url(url).get_backend_name() != "postgresql" or sets_search_path(url):
        return SchemaChoice(url, table)
    with reading(url, timeout) as connection:
        if table is not None and "." in table:
            schema, bare = table.split(".", 1)
            path = _path(connection, schema, others=True)
            return SchemaChoice(with_search_path(url, path), bare,
                                f"the tables are read in schema {schema!r} (given with --table): the URL puts it "
                                "first on the search path", path)
        if table is not None or any(looks_like_visits(str(n)) for (n,) in run_checked(connection, _DEFAULT_HAS_ONE)):
            default = str(connection.execute(text("SELECT current_schema()")).scalar_one())
            path = _path(connection, default, others=False)
            if len(path) == 1:
                return SchemaChoice(url, table)
            return SchemaChoice(with_search_path(url, path), table, _across_note(path), path)
        counts = Counter(str(schema) for schema, name in run_checked(connection, _TABLES)
                         if looks_like_visits(str(name)))
        if not counts:
            return SchemaChoice(url, table)
        ranked = counts.most_common()
        tied = sorted(s for s, n in ranked if n == ranked[0][1])
        if len(tied) > 1:
            raise DiscoverError(f"the login's default schema has no appointment-like table, and several schemas "
                                f"do ({', '.join(tied)}): give one with --table schema.table")
        schema = ranked[0][0]
        path = _path(connection, schema, others=True)
    return SchemaChoice(with_search_path(url, path), table,
                        f"the login's default schema holds no table named like appointments; schema {schema!r} "
                        f"holds {ranked[0][1]}: the URL puts it first on the search path (options=-csearch_path)",
                        path)


def used_schemas(path: Sequence[str], owners: Mapping[str, str], query: str, quote: Callable[[str], str]) -> list[str]:
    """The schemas of ``path`` whose tables ``query`` reads (``owners``: table -> its schema), the
    first always, in path order."""
    named = {owners[t] for t in owners if re.search(rf"\b(FROM|JOIN)\s+{re.escape(quote(t))}(\s|$)", query)}
    return [s for i, s in enumerate(path) if i == 0 or s in named]


class PathInspector:
    """An SQLAlchemy inspector over every schema of a search path as one: a table's name is
    the first schema's holding it, as an unqualified name resolves (the rest of the inspector
    is the wrapped one's)."""

    def __init__(self, inspector: Any, path: Sequence[str]) -> None:
        self._inner = inspector
        self.path = tuple(path)
        self.owners: dict[str, str] = {}  # table or view -> its schema
        self._views: list[str] = []
        for schema in self.path:
            for name in inspector.get_table_names(schema=schema):
                self.owners.setdefault(str(name), schema)
        for schema in self.path:
            for name in inspector.get_view_names(schema=schema):
                if str(name) not in self.owners:
                    self.owners[str(name)] = schema
                    self._views.append(str(name))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get_table_names(self, schema: str | None = None) -> list[str]:
        return [n for n in self.owners if n not in self._views] if schema is None else \
            self._inner.get_table_names(schema=schema)

    def get_view_names(self, schema: str | None = None) -> list[str]:
        return list(self._views) if schema is None else self._inner.get_view_names(schema=schema)

    def get_columns(self, name: str, schema: str | None = None, **kw: Any) -> Any:
        return self._inner.get_columns(name, schema=schema or self.owners.get(name), **kw)

    def get_pk_constraint(self, name: str, schema: str | None = None, **kw: Any) -> Any:
        return self._inner.get_pk_constraint(name, schema=schema or self.owners.get(name), **kw)

    def get_foreign_keys(self, name: str, schema: str | None = None, **kw: Any) -> Any:
        return self._inner.get_foreign_keys(name, schema=schema or self.owners.get(name), **kw)

    def _multi(self, method: str, filter_names: Sequence[str] | None = None, **kw: Any) -> dict[Any, Any]:
        wanted = list(self.owners) if filter_names is None else list(filter_names)
        out: dict[Any, Any] = {}
        for schema in self.path:
            mine = [n for n in wanted if self.owners.get(n) == schema]
            if mine:
                found = getattr(self._inner, method)(schema=schema, filter_names=mine, **kw)
                out.update({(None, name): value for (_, name), value in dict(found).items()})
        return out

    def get_multi_columns(self, **kw: Any) -> dict[Any, Any]:
        return self._multi("get_multi_columns", **kw)

    def get_multi_pk_constraint(self, **kw: Any) -> dict[Any, Any]:
        return self._multi("get_multi_pk_constraint", **kw)

    def get_multi_foreign_keys(self, **kw: Any) -> dict[Any, Any]:
        return self._multi("get_multi_foreign_keys", **kw)


def partitions(connection: Connection) -> dict[str, str]:
    """This schema's partitions and inheritance children, each with the table it belongs to
    (empty on any other database)."""
    if connection.dialect.name != "postgresql":
        return {}
    return {str(child): str(parent) for child, parent in run_checked(connection, _CHILDREN)}


def without_partitions(names: Sequence[str], children: Mapping[str, str]) -> list[str]:
    return [n for n in names if n not in children]


def partitions_note(children: Mapping[str, str], chosen: str) -> str | None:
    """What the proposal says when the chosen table is read whole over its partitions."""
    parts = sorted(c for c, p in children.items() if p == chosen)
    if not parts:
        return None
    shown = ", ".join(parts[:4]) + (f" and {len(parts) - 4} more" if len(parts) > 4 else "")
    return f"table {chosen!r} is split into partitions ({shown}): read whole through {chosen!r}, never one part"
