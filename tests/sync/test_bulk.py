"""The store's driver-level bulk statements (sync/store/bulk.py), on SQLite and on the real
PostgreSQL (COPY and array lookups there): what they write must read back exactly as the
SQLAlchemy path writes it, the ids they return must be the rows' own, and driver errors
must surface as SQLAlchemy's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import DataError, IntegrityError

from clinicsync.sync.store import bulk
from clinicsync.sync.store.model import Appointment, Patient
from clinicsync.sync.store.store import Store

APPOINTMENTS = Appointment.__table__  # type: ignore[attr-defined]
PATIENTS = Patient.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
NAMES = ("connector", "external_id", "status", "start_utc", "end_utc", "timezone", "type", "content_hash",
         "version", "source_updated_at", "quality_notes", "created_at", "updated_at")
# Text COPY must escape: tabs, new lines, backslashes, \N, non-ASCII.
ODD_TEXT = ["plain", "tab\there", "line\nbreak", "back\\slash", "\\N", "Zoë 日本", "", "carriage\rreturn"]


def _rows(count: int, connector: str = "src", start: int = 0) -> list[tuple[Any, ...]]:
    return [(connector, f"A-{start + i}", "booked", NOW + timedelta(minutes=i), NOW + timedelta(minutes=i + 30),
             "America/New_York", ODD_TEXT[i % len(ODD_TEXT)], f"h{i}", 1, None if i % 2 else NOW,
             ODD_TEXT[(i + 3) % len(ODD_TEXT)], NOW, NOW) for i in range(count)]


def _stored(connection: Connection, connector: str = "src") -> dict[str, tuple[Any, ...]]:
    t = APPOINTMENTS.c
    rows = connection.execute(select(t.id, *(t[n] for n in NAMES)).where(t.connector == connector)).all()
    return {row[2]: tuple(row) for row in rows}


def test_insert_rows_reads_back_as_the_sqlalchemy_path_writes(store: Store) -> None:
    rows = _rows(40)
    with store.engine.begin() as connection:
        bulk.insert_rows(connection, APPOINTMENTS, NAMES, rows)
        connection.execute(insert(APPOINTMENTS), [dict(zip(NAMES, ("other", *row[1:]), strict=True))
                                                  for row in rows])
    with store.engine.connect() as connection:
        ours, theirs = _stored(connection), _stored(connection, "other")
    assert len(ours) == 40
    for key, row in ours.items():
        assert row[2:] == theirs[key][2:]  # all but id and connector
        assert row[1:] == rows[int(key[2:])]


def test_insert_with_ids_returns_each_rows_own_id(store: Store) -> None:
    with store.engine.begin() as connection:
        first = bulk.insert_with_ids(connection, APPOINTMENTS, NAMES, _rows(7), "src")
        more = bulk.insert_with_ids(connection, APPOINTMENTS, NAMES, _rows(1200, start=7), "src")
        assert bulk.insert_with_ids(connection, APPOINTMENTS, NAMES, [], "src") == []
    with store.engine.connect() as connection:
        stored = _stored(connection)
    assert first + more == [stored[f"A-{i}"][0] for i in range(1207)]


def test_ids_are_read_back_when_sqlite_picks_them_at_random(tmp_path: Any) -> None:
    """A table whose largest rowid is SQLite's maximum gets new ids at random: not
    consecutive, so the ends do not match and the ids are read back."""
    from clinicsync.sync.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    try:
        with engine.begin() as connection:
            top = dict(zip(NAMES, _rows(1, "top")[0], strict=True))
            connection.execute(insert(APPOINTMENTS).values(id=2**63 - 1, **top))
            ids = bulk.insert_with_ids(connection, APPOINTMENTS, NAMES, _rows(50), "src")
        with engine.connect() as connection:
            stored = _stored(connection)
        assert ids == [stored[f"A-{i}"][0] for i in range(50)]
        assert ids != list(range(ids[0], ids[0] + 50))
    finally:
        engine.dispose()


@pytest.mark.parametrize("off_by", [-1, 1, 5])
def test_ids_are_read_back_when_last_insert_rowid_does_not_fit(tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
                                                               off_by: int) -> None:
    """Whatever else moved ``last_insert_rowid()`` (another insert on the connection), the
    checked ends do not hold the rows inserted, and the ids are read back."""
    from clinicsync.sync.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    real = bulk.last_insert_rowid
    monkeypatch.setattr(bulk, "last_insert_rowid", lambda connection: real(connection) + off_by)
    try:
        with engine.begin() as connection:
            bulk.insert_rows(connection, APPOINTMENTS, NAMES, _rows(3, "before"))
            ids = bulk.insert_with_ids(connection, APPOINTMENTS, NAMES, _rows(20), "src")
            bulk.insert_rows(connection, APPOINTMENTS, NAMES, _rows(3, "after"))
        with engine.connect() as connection:
            stored = _stored(connection)
        assert ids == [stored[f"A-{i}"][0] for i in range(20)]
    finally:
        engine.dispose()


def test_ids_are_not_read_back_when_consecutive(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from clinicsync.sync.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    monkeypatch.setattr(bulk, "select_in", lambda *args, **kwargs: pytest.fail("read back"))
    try:
        with engine.begin() as connection:
            bulk.insert_rows(connection, APPOINTMENTS, NAMES, _rows(3, "before"))
            ids = bulk.insert_with_ids(connection, APPOINTMENTS, NAMES, _rows(20), "src")
        with engine.connect() as connection:
            stored = _stored(connection)
        assert ids == [stored[f"A-{i}"][0] for i in range(20)]
    finally:
        engine.dispose()


def test_select_in_finds_keys_beyond_one_chunk_with_processed_values(store: Store) -> None:
    with store.engine.begin() as connection:
        bulk.insert_rows(connection, APPOINTMENTS, NAMES, _rows(1100))
        bulk.insert_rows(connection, APPOINTMENTS, NAMES, _rows(5, "other"))
        keys = [f"A-{i}" for i in range(0, 1100, 2)] + ["missing"]
        found = bulk.select_in(connection, APPOINTMENTS, ("external_id", "start_utc", "source_updated_at"),
                               "src", keys, chunk=100)
        assert bulk.select_in(connection, APPOINTMENTS, ("external_id",), "src", []) == []
        dated = bulk.select_in(connection, APPOINTMENTS, ("external_id",), "src", keys,
                               condition="source_updated_at IS NOT NULL")
    assert sorted(found) == sorted((f"A-{i}", NOW + timedelta(minutes=i), None if i % 2 else NOW)
                                   for i in range(0, 1100, 2))
    assert all(value.tzinfo is UTC for _, start, _ in found for value in (start,))
    assert sorted(dated) == sorted((f"A-{i}",) for i in range(0, 1100, 2))


def test_processed_rows_passes_only_columns_with_a_processor() -> None:
    rows = [(1, "a", 2), (3, "b", 4)]
    assert bulk.processed_rows(rows, [None, str.upper, None]) == [(1, "A", 2), (3, "B", 4)]
    assert bulk.processed_rows(rows, [None, None, None]) == rows


@pytest.mark.parametrize("pattern", range(1 << 5))
def test_processed_rows_matches_value_by_value_processing(pattern: int) -> None:
    """Every combination of processed columns, against the plain per-value loop."""
    processors: list[Any] = [(lambda value, i=i: (i, value)) if pattern >> i & 1 else None for i in range(5)]
    rows = [tuple(f"{r}-{c}" for c in range(5)) for r in range(30)]
    expected = [tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True)) for row in rows]
    assert bulk.processed_rows(rows, processors) == expected


def test_a_duplicate_key_is_sqlalchemys_integrity_error(store: Store) -> None:
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        bulk.insert_rows(connection, APPOINTMENTS, NAMES, _rows(3) + _rows(1))
    with store.engine.connect() as connection:
        assert _stored(connection) == {}



def _typed(connection: Connection, connector: str) -> list[tuple[Any, ...]]:
    """Every stored column of ``connector``'s rows, id first, with its storage class, in id order."""
    columns = ", ".join(f"{name}, typeof({name})" for name in NAMES)
    return [tuple(row) for row in connection.exec_driver_sql(
        f"SELECT id, {columns} FROM appointment WHERE connector = ? ORDER BY id", (connector,))]


@pytest.mark.parametrize("count", [1, 15, 16, 17, 31, 32, 33, 47, 48, 50])
def test_sqlite_multi_row_inserts_store_what_an_executemany_stores(tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
                                                                   count: int) -> None:
    """SQLite's INSERT of ``VALUES_ROWS`` rows a statement (then an executemany of the rest) against
    the executemany of every row: the same values and storage classes, the same ids in row order
    (consecutive from the same start), on two stores of the same history; every group sent."""
    from sqlalchemy import event

    from clinicsync.sync.store.db import make_engine, upgrade

    def stored(grouped: bool) -> tuple[list[tuple[Any, ...]], list[int], list[str]]:
        engine = make_engine(f"sqlite:///{tmp_path / f'{grouped}.db'}")
        upgrade(engine)
        sent: list[str] = []
        monkeypatch.setattr(bulk, "VALUES_ROWS", bulk.VALUES_ROWS if grouped else 10**9)
        try:
            with engine.begin() as connection:
                bulk.insert_rows(connection, APPOINTMENTS, NAMES, _rows(3, "before"))  # ids before ours
                event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
                ids = bulk.insert_with_ids(connection, APPOINTMENTS, NAMES, _rows(count), "src")
            with engine.connect() as connection:
                return _typed(connection, "src"), ids, sent
        finally:
            engine.dispose()

    per = bulk.VALUES_ROWS
    ours, our_ids, sent = stored(grouped=True)
    theirs, their_ids, _ = stored(grouped=False)
    assert ours == theirs and len(ours) == count
    assert our_ids == their_ids == [row[0] for row in ours] == list(range(4, 4 + count))
    groups = [sql.count("), (") + 1 for sql in sent if sql.startswith("INSERT")]
    assert groups == [per] * (count // per) + ([1] if count % per else [])


def test_a_duplicate_key_in_a_later_group_is_sqlalchemys_integrity_error(store: Store) -> None:
    """A multi-row INSERT that meets a stored key fails as the executemany did: SQLAlchemy's
    IntegrityError, and the transaction's rows rolled back with it."""
    rows = _rows(40)
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        # the second group (rows 16-31) repeats row 5's key
        bulk.insert_rows(connection, APPOINTMENTS, NAMES, rows[:19] + rows[5:6] + rows[20:])
    with store.engine.connect() as connection:
        assert _stored(connection) == {}

@pytest.mark.postgres
def test_a_value_longer_than_its_column_is_sqlalchemys_data_error(postgres_url: str) -> None:
    """What the HL7 receiver catches to quarantine a message the store refuses."""
    from clinicsync.sync.store.db import make_engine, upgrade

    engine = make_engine(postgres_url)
    upgrade(engine)
    try:
        row = ("src", "P-1", "x" * 300, None, None, None, None, True, True, "h", NOW)
        names = ("connector", "external_id", "name", "phone", "email", "language", "channel", "allow_sms",
                 "allow_email", "content_hash", "updated_at")
        with pytest.raises(DataError), engine.begin() as connection:
            bulk.insert_rows(connection, PATIENTS, names, [row])
    finally:
        engine.dispose()


def test_a_processor_runs_once_per_distinct_value_unless_values_cannot_be_hashed() -> None:
    calls: list[Any] = []

    def process(value: Any) -> Any:
        calls.append(value)
        return str(value)

    lookup = bulk._per_distinct_value(process, [NOW, NOW, None, NOW, 3])
    assert [lookup(v) for v in (NOW, None, 3, NOW)] == [str(NOW), "None", "3", str(NOW)]
    assert sorted(map(str, calls)) == sorted(map(str, [NOW, None, 3]))
    calls.clear()
    direct = bulk._per_distinct_value(process, [[1], [1]])
    assert [direct(v) for v in ([1], [1])] == ["[1]", "[1]"] and len(calls) == 2


def test_a_growing_table_gets_fresh_planner_statistics(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: ANALYZE once the rows the store inserted reach the threshold, then at each
    doubling (a first import outruns autovacuum); SQLite: nothing to do."""
    from clinicsync.mappings.model import NormalizedAppointment
    from clinicsync.sync.store import base as store_base
    from clinicsync.sync.store.store import Mapped

    monkeypatch.setattr(store_base, "_ANALYZE_FROM", 10)
    analyzed: list[str] = []
    real = Connection.exec_driver_sql

    def spy(self: Connection, statement: str, *args: Any, **kwargs: Any) -> Any:
        if statement.startswith("ANALYZE"):
            analyzed.append(statement)
        return real(self, statement, *args, **kwargs)

    monkeypatch.setattr(Connection, "exec_driver_sql", spy)
    for batch in range(4):
        mapped = [Mapped(f"t:{i}", NormalizedAppointment(
            external_id=f"A-{batch}-{i}", status="booked", start=NOW, end=NOW + timedelta(minutes=30),
            timezone="UTC")) for i in range(6)]
        store.apply_batch("src", "run", mapped, [], None)
    if store.engine.dialect.name == "postgresql":
        assert analyzed == ['ANALYZE appointment'] * 2  # at 12 rows (>= 10) and at 24 (>= 2 x 12)
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql(
                "SELECT reltuples FROM pg_class WHERE oid = 'appointment'::regclass").scalar_one() == 24
    else:
        assert analyzed == []


class _Conforming:
    """A value that adapts itself (the protocol bind_none_directly must leave working)."""

    def __conform__(self, protocol: Any) -> str:
        return "conformed"


def test_none_binds_as_null_through_its_adapter() -> None:
    """bulk.bind_none_directly (issue 32): None reaches SQLite as NULL, through the registered
    adapter and not the failing attribute look-ups; every other kind binds as before (the
    four direct types, bytes, a bool, a value with ``__conform__``), with and without
    executemany, and NULL compares and sorts as NULL."""
    import sqlite3

    adapter = sqlite3.adapters[(type(None), sqlite3.PrepareProtocol)]
    assert adapter(None) is None
    connection = sqlite3.connect(":memory:")
    values = (None, 1, 1.5, "text", bytearray(b"ab"), b"cd", True, _Conforming())
    row = connection.execute("SELECT " + ", ".join("typeof(?), ?" for _ in values),
                             [v for value in values for v in (value, value)]).fetchone()
    assert row == ("null", None, "integer", 1, "real", 1.5, "text", "text", "blob", b"ab", "blob", b"cd",
                   "integer", 1, "text", "conformed")
    connection.execute("CREATE TABLE t (a, b)")
    connection.executemany("INSERT INTO t VALUES (?, ?)", [(None, 1), (2, None), (None, None)])
    assert connection.execute("SELECT count(*) FROM t WHERE a IS NULL").fetchone() == (2,)
    assert connection.execute("SELECT typeof(a), typeof(b) FROM t ORDER BY rowid").fetchall() == [
        ("null", "integer"), ("integer", "null"), ("null", "null")]
    assert connection.execute("SELECT count(*) FROM t WHERE a = ?", (None,)).fetchone() == (0,)


def test_only_nullable_columns_without_a_default_are_left_to_null() -> None:
    """bulk.leaves_null (issue 32): what an INSERT may leave out to store NULL."""
    assert bulk.leaves_null(APPOINTMENTS, "join_url") and bulk.leaves_null(APPOINTMENTS, "source_updated_at")
    assert not bulk.leaves_null(APPOINTMENTS, "status")  # NOT NULL
    assert not bulk.leaves_null(APPOINTMENTS, "id")  # the primary key: SQLite would number it
    assert not any(bulk.leaves_null(PATIENTS, name) for name in ("allow_sms", "connector", "external_id"))


def test_the_migrated_schema_stores_null_where_a_column_is_left_out(store: Store) -> None:
    """leaves_null reads the model; the tables as the migrations made them must agree: every
    column it would leave out is nullable, without a DEFAULT, in the migrated SQLite schema
    (the only store where columns are left out)."""
    from clinicsync.sync.store.model import Practitioner

    if store.engine.dialect.name != "sqlite":
        pytest.skip("columns are left out on SQLite only")
    with store.engine.connect() as connection:
        for table in (APPOINTMENTS, PATIENTS, Practitioner.__table__):  # type: ignore[attr-defined]
            schema = {name: (notnull, default) for _, name, _, notnull, default, _ in
                      connection.exec_driver_sql(f"PRAGMA table_info({table.name})")}
            assert set(schema) == {c.name for c in table.columns}
            left = [c.name for c in table.columns if bulk.leaves_null(table, c.name)]
            assert left, table.name
            for name in left:
                assert schema[name] == (0, None), (table.name, name)


def test_a_multi_row_inserts_child_key_scans_never_run(store: Store) -> None:
    """SQLite lists, for an INSERT of several rows into a table other tables reference, a scan of
    each referencing table (writeback has no index on appointment_id), but runs them only while the
    statement has caused a foreign key violation, which inserting parent rows never does: the
    statement's virtual machine steps are the same whatever those tables hold."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's multi-row INSERT")
    raw = store.engine.raw_connection()
    try:
        db = raw.driver_connection
        rows = bulk.VALUES_ROWS
        sql = (f"INSERT INTO appointment ({', '.join(NAMES)}) "
               f"VALUES {', '.join(['(' + ', '.join('?' * len(NAMES)) + ')'] * rows)}")
        plan = db.execute(f"EXPLAIN QUERY PLAN {sql}", [None] * rows * len(NAMES))
        assert "SCAN writeback" in [row[3] for row in plan]

        def steps(start: int) -> int:
            counted = [0]

            def count() -> int:
                counted[0] += 1
                return 0

            values = [str(v) if isinstance(v, datetime) else v for row in _rows(rows, start=start) for v in row]
            db.set_progress_handler(count, 1)
            try:
                db.execute(sql, values)
            finally:
                db.set_progress_handler(None, 1)
            db.commit()
            return counted[0]

        empty = steps(0)
        assert empty > 100
        db.execute("INSERT INTO writeback (appointment_id, connector, external_id, participant_status, "
                   "appointment_status, status, attempts, next_at, created_at) "
                   "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5000) "
                   "SELECT 1, 'src', 'A-0', 'accepted', 'booked', 'pending', 0, '2027-01-01', '2027-01-01' FROM n")
        db.commit()
        assert steps(100) == empty
    finally:
        raw.close()
