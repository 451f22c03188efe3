"""PostgreSQL schemas at head, used again by the next test of the same worker.

Replaying the head script into a fresh schema and dropping it afterwards cost ~0.4 s of the
server's time per PostgreSQL test (issue 32: ~800 such tests, a fifth of the suite's time), and
each drop left some hundred dead catalog rows on a server without autovacuum, which slowed every
later statement. A schema a test leaves as the replay made it (no DDL, no ANALYZE or VACUUM, no
lock still held on it) is emptied instead: the tables the test wrote to are truncated (each, with
its indexes, as a new file: the planner sees them exactly as freshly made, where DELETE would leave
their pages), every sequence starts at 1 again, and the schema, renamed ``p_…``, goes to the next
test that asks for a store at head, renamed to that test's schema. Anything else is dropped, as
before: a test that altered or analyzed its schema never hands it on.

The emptying runs on a thread of the worker's own, after the test: it costs ~50 ms a schema, most of
it the server creating and unlinking the truncated tables' files (18 ms of its CPU), which the test
waited for at its teardown. The next test takes another free schema meanwhile, or replays the
script once when none is free (so a worker keeps two or three); the emptied schema's signature is
taken when it is emptied, so handing it on is a drop and a rename.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg

# What a schema's relations and types are, catalog-wise: any DDL writes a row of pg_class or
# pg_type (a new xmin, oid or relfilenode); ANALYZE and VACUUM set reltuples and relpages.
_SIGNATURE = """
SELECT md5(coalesce((SELECT string_agg(concat_ws(':', c.oid, c.xmin, c.relfilenode, c.reltuples, c.relpages,
                                                 c.relacl), ',' ORDER BY c.oid)
                     FROM pg_class c WHERE c.relnamespace = n.oid), '')
           || coalesce((SELECT string_agg(concat_ws(':', t.oid, t.xmin), ',' ORDER BY t.oid)
                        FROM pg_type t WHERE t.typnamespace = n.oid), '')
           || (SELECT count(*) FROM pg_proc p WHERE p.pronamespace = n.oid)),
       (SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
        WHERE c.relnamespace = n.oid AND l.pid <> pg_backend_pid()),
       (SELECT coalesce(string_agg(quote_ident(c.relname), ', '), '') FROM pg_class c
        WHERE c.relnamespace = n.oid AND c.relkind = 'r' AND c.relname <> 'alembic_version'
          AND pg_relation_size(c.oid) > 0)
FROM pg_namespace n WHERE n.nspname = %s
"""
# The planner's figures of each relation of a schema just replayed, as arrays (text), and their
# restoration after a TRUNCATE (the server's own catalog, as superuser: what ANALYZE would write).
_FRESH = """
SELECT array_agg(c.relname ORDER BY c.relname)::text, array_agg(c.relpages ORDER BY c.relname)::text,
       array_agg(c.reltuples ORDER BY c.relname)::text, array_agg(c.relallvisible ORDER BY c.relname)::text
FROM pg_class c WHERE c.relnamespace = %s::regnamespace
"""
_RESTORE = """
UPDATE pg_class c SET relpages = f.relpages, reltuples = f.reltuples, relallvisible = f.relallvisible
FROM unnest(%s::text[], %s::int[], %s::real[], %s::int[]) AS f(relname, relpages, reltuples, relallvisible)
WHERE c.relnamespace = %s::regnamespace AND c.relname = f.relname
  AND (c.relpages, c.reltuples, c.relallvisible) IS DISTINCT FROM (f.relpages, f.reltuples, f.relallvisible)
"""


@dataclass
class SchemaPool:
    """One worker's schemas at head: ``free`` ones (named ``p_…``, each with its signature once
    emptied) and, for each schema a test holds at head, its signature when it was made or
    handed out. ``release`` leaves the emptying to a thread of the pool's own: ``settle`` waits
    for what it has still to do."""

    admin_url: str
    free: list[tuple[str, str]] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)
    sequences: tuple[str, ...] = ()
    _fresh: tuple[str, ...] = ()  # relnames, relpages, reltuples, relallvisible of a fresh schema (arrays)
    _thread: ThreadPoolExecutor | None = None
    _pending: list[Future[None]] = field(default_factory=list)

    def learn(self, script: str, mark: str) -> None:
        """The sequences of the head script (its schema written as ``mark``)."""
        if not self.sequences:
            self.sequences = tuple(re.findall(rf"CREATE SEQUENCE {re.escape(mark)}(\w+)", script))

    def take(self, schema: str) -> bool:
        """Put a free schema at head in the place of the empty ``schema``; False when none is free
        (one still being emptied is not waited for: the replay costs about as much, and a second
        schema in the pool lets the next test find one ready)."""
        while self.free:
            pooled, signature = self.free.pop()
            try:
                with psycopg.connect(self.admin_url) as connection:
                    connection.execute(f'DROP SCHEMA "{schema}"; ALTER SCHEMA "{pooled}" RENAME TO "{schema}"')
                self.held[schema] = signature
                return True
            except psycopg.Error:
                self._drop(pooled)
        return False

    def made(self, schema: str) -> None:
        """``schema`` was just brought to head by the script: a candidate for the pool (and, the
        first time, the planner's figures of a fresh schema's relations, for :data:`_RESTORE`)."""
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            self.held[schema] = self._signature(connection, schema)[0]
            if not self._fresh:
                self._fresh = tuple(str(column) for column in connection.execute(_FRESH, (schema,)).fetchone() or ())

    def release(self, schema: str) -> None:
        """The test is over: its schema emptied into the pool when it is as it was handed out,
        else dropped, on the pool's thread."""
        signature = self.held.pop(schema, None)
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="schema-pool")
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._thread.submit(self._empty_or_drop, schema, signature))

    def settle(self) -> None:
        """Wait until every released schema is in the pool or dropped."""
        for future in self._pending:
            future.result()
        self._pending.clear()

    def drain(self) -> None:
        """Drop every free schema (the worker's session is over)."""
        self.settle()
        while self.free:
            self._drop(self.free.pop()[0])

    def _empty_or_drop(self, schema: str, signature: str | None) -> None:
        try:
            if signature is not None and self.sequences and self._recycle(schema, signature):
                return
        except psycopg.Error:
            pass
        with contextlib.suppress(psycopg.Error):  # the server restarted or refused: the schema stays
            self._drop(schema)

    def _recycle(self, schema: str, signature: str) -> bool:
        pooled = f"p_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url) as connection:
            now, locks, written = self._signature(connection, schema)
            if now != signature or locks:
                return False
            connection.execute(f"SET LOCAL lock_timeout = '2s'; SET LOCAL search_path = \"{schema}\"")
            if written:
                connection.execute(f"TRUNCATE {written} CASCADE")
                # TRUNCATE leaves an index at 0 pages and -1 tuples where CREATE INDEX left 1 and 0: the
                # planner would then guess ~300 entries in an empty index, and may walk another one.
                connection.execute(_RESTORE, (*self._fresh, schema))
            connection.execute("; ".join(f"SELECT setval('\"{schema}\".{name}', 1, false)" for name in self.sequences)
                               + f'; ALTER SCHEMA "{schema}" RENAME TO "{pooled}"')
            emptied = self._signature(connection, pooled)[0]  # what the schema is when handed on
        self.free.append((pooled, emptied))
        return True

    @staticmethod
    def _signature(connection: psycopg.Connection, schema: str) -> tuple[str, int, str]:
        """The schema's catalog signature, the locks others hold on it, the tables written to."""
        row = connection.execute(_SIGNATURE, (schema,)).fetchone()
        assert row is not None, f"schema {schema} is gone"
        return str(row[0]), int(row[1]), str(row[2])

    def _drop(self, schema: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
