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
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection
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


@dataclass(frozen=True)
class SchemaChoice:
    """The URL to read (and write to the settings file), the table the admin named without its
    schema, and what the proposal says of the choice (None when nothing changed)."""

    url: str
    table: str | None
    note: str | None = None


def sets_search_path(url: str) -> bool:
    options = make_url(url).query.get("options", "")
    text = " ".join(options) if isinstance(options, tuple) else options
    return "search_path" in text


def with_search_path(url: str, schema: str) -> str:
    """``url`` with ``schema`` first on the search path, beside any options it already sets."""
    if not _PLAIN.fullmatch(schema):
        raise DiscoverError(f"the tables are in schema {schema!r}, whose name needs quoting: give the URL with "
                            f"?options=-csearch_path%3D<the schema, quoted> and run discover again")
    parsed = make_url(url)
    before = parsed.query.get("options", "")
    before = " ".join(before) if isinstance(before, tuple) else before
    options = f"{before.strip()} -csearch_path={schema}".strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def choose_schema(url: str, table: str | None, timeout: float,
                  looks_like_visits: Callable[[str], object]) -> SchemaChoice:
    """Where a PostgreSQL database keeps its tables, as a URL to read them by (see the module's
    docstring); any other database, or a URL with its own search path, is returned as given."""
    if make_url(url).get_backend_name() != "postgresql" or sets_search_path(url):
        return SchemaChoice(url, table)
    if table is not None and "." in table:
        schema, bare = table.split(".", 1)
        return SchemaChoice(with_search_path(url, schema), bare,
                            f"the tables are read in schema {schema!r} (given with --table): the URL puts it "
                            "first on the search path")
    with reading(url, timeout) as connection:
        if table is not None or any(looks_like_visits(str(n)) for (n,) in run_checked(connection, _DEFAULT_HAS_ONE)):
            return SchemaChoice(url, table)
        counts = Counter(str(schema) for schema, name in run_checked(connection, _TABLES)
                         if looks_like_visits(str(name)))
    if not counts:
        return SchemaChoice(url, table)
    ranked = counts.most_common()
    tied = sorted(s for s, n in ranked if n == ranked[0][1])
    if len(tied) > 1:
        raise DiscoverError(f"the login's default schema has no appointment-like table, and several schemas do "
                            f"({', '.join(tied)}): give one with --table schema.table")
    schema = ranked[0][0]
    return SchemaChoice(with_search_path(url, schema), table,
                        f"the login's default schema holds no table named like appointments; schema {schema!r} "
                        f"holds {ranked[0][1]}: the URL puts it first on the search path (options=-csearch_path)")


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
