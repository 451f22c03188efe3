"""The floor of an idle cron run: a bare script that does what an idle poll of one source must
and no more, as a whole process (bench/idle_once.py runs it beside `sync --once`).

    python bench/idle_bare.py sql STORE_DB CONNECTOR URL QUERY   # one SQL source
    python bench/idle_bare.py csv STORE_DB CONNECTOR DROP_DIR    # one drop folder

It reads the source's cursor from the SQLite store (sqlite3), then asks the source for what
changed: the SQL source's query with its cursor condition, on a fresh psycopg connection (no
row: an idle source), or the drop folder's CSV files listed, read and hashed. No settings file,
no mapping, no bookkeeping: what is left of `sync --once` above this is clinicsync's own cost.
"""

from __future__ import annotations

import sqlite3
import sys
from datetime import UTC, datetime


def main() -> None:
    kind, store, connector, *rest = sys.argv[1:]
    with sqlite3.connect(store) as db:
        db.execute("SELECT cursor FROM connectorstate WHERE connector = ?", (connector,)).fetchone()
    if kind == "sql":
        import psycopg

        url, query = rest
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as connection:
            connection.execute(f"SELECT * FROM ({query}) AS q WHERE q.updated_at >= %s ORDER BY q.updated_at",
                               (datetime.now(UTC).replace(tzinfo=None),)).fetchall()
        return
    import hashlib
    from pathlib import Path

    for path in sorted(Path(rest[0]).glob("*.csv")):
        hashlib.blake2b(path.read_bytes()).hexdigest()


if __name__ == "__main__":
    main()
