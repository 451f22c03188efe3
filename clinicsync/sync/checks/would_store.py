"""What a sync would store from a source, rehearsed by the sync itself, against what `check` read.

`check` reads the source and maps every record; that a record maps says nothing of what a sync
then keeps. Rows whose ids repeat keep one visit per id (the key is a patient's or a slot's),
rows read as deletions delete, and a read whose window sits on a column that is not the visit's
time (a post's creation date, a row's change stamp) keeps a handful of rows of a big table, none
of them ahead: every record maps, `check` passed, and the first sync imported nothing anybody
books (a WordPress site's ``wp_posts`` windowed on ``post_date``: 1 row of 652, an abandoned form).

So `check` runs the import itself — ``sync_connector`` as `sync --once --dry-run` runs it, the
same code path, never a re-implementation of its rules — on a scratch store (a first import: a
store already holding visits would mix what the last syncs kept into the answer), then reads the
visits the store holds and compares:

- none kept of the records that mapped: the import keeps nothing (every record a deletion, or
  refused): the setup cannot work;
- the records' distinct (id, start) pairs fold into fewer than half as many visits: rows of
  different times share the id, so each sync keeps one of them (a join that repeats a row, a
  visit with two phones, repeats its start too, and is not counted);
- no visit kept starts ahead of now while the settings need upcoming visits (reminders, or
  doctors' calendars and agendas) and the query without its window holds more rows than the
  window read: the window is on the wrong column or the query on the wrong rows.

Rejected: comparing counts of the read with the table (a source may rightly read a tenth of
its table); a second reading of the rules in `check` (they drift from the sync's). The scratch
store is migrated once per process and copied for each rehearsal (a migration is ~1 s).
Errors only name counts and columns, never a value.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.common.types import utcnow
from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.connectors.base import ConnectorSettings
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.plausibility.reach import Needs
from clinicsync.sync.store.tables import APPOINTMENTS

HALF = 0.5  # fewer than half as many visits kept as (id, start) pairs read: ids fold visits together
MIN_PAIRS = 4  # too few records read to judge a fold
_TEMPLATE: dict[str, Path] = {}  # the migrated scratch store of this process


@dataclass(frozen=True)
class Kept:
    """What the rehearsed import left in the scratch store for the connector."""

    live: int  # visits kept, not deleted
    upcoming: int  # of them, active and starting after now
    deleted: int
    quarantined: int
    error: str | None


def _scratch(folder: Path) -> str:
    """A SQLite store at head under ``folder``: a copy of the process's migrated template."""
    from clinicsync.sync.store.db import ensure_schema, make_engine

    template = _TEMPLATE.get("path")
    if template is None or not template.exists():
        home = Path(tempfile.mkdtemp(prefix="clinicsync-check-"))
        atexit.register(shutil.rmtree, home, True)  # the process's template goes with it
        template = home / "template.db"
        engine = make_engine(f"sqlite:///{template}")
        try:
            ensure_schema(engine)
        finally:
            engine.dispose()
        _TEMPLATE["path"] = template
    shutil.copyfile(template, folder / "store.db")
    return f"sqlite:///{folder / 'store.db'}"


def rehearse(settings: Settings, config: ConnectorSettings) -> Kept | None:
    """The connector's import run by the sync on a scratch store (nothing read is moved: a dry
    run archives no file and stores no cursor of the real store); None when it could not run."""
    from clinicsync.sync.ingest.engine import sync_connector
    from clinicsync.sync.ingest.reports import new_run_id
    from clinicsync.sync.store.store import Store

    with tempfile.TemporaryDirectory(prefix="clinicsync-check-") as folder:
        try:
            store = Store.open(settings.store.model_copy(update={"url": _scratch(Path(folder))}))
        except Exception:  # the check goes on without this part: it reports, it does not crash
            return None
        try:
            report = sync_connector(settings, store, config, new_run_id(), dry_run=True, sole_writer=True)
            A = APPOINTMENTS.c
            mine = A.connector == config.name
            with store.engine.connect() as connection:
                live, upcoming, deleted = connection.execute(select(
                    select(func.count()).where(mine, A.deleted_at.is_(None)).scalar_subquery(),
                    select(func.count()).where(mine, A.deleted_at.is_(None), A.start_utc > utcnow(),
                                               A.status.in_(sorted(ACTIVE_STATUSES))).scalar_subquery(),
                    select(func.count()).where(mine, A.deleted_at.is_not(None)).scalar_subquery())).one()
        finally:
            store.engine.dispose()
    return Kept(int(live), int(upcoming), int(deleted), report.counts.quarantined, report.error)


def whole_rows(connector: Any) -> int | None:
    """The rows of a SQL source's query with its window opened wide (its table's rows for a
    ``table:``); None for another source or when the count fails."""
    from clinicsync.sync.checks.status_words import opened_wide

    engine = getattr(connector, "engine", None)
    if connector.kind != "sql" or engine is None:
        return None
    read = opened_wide(connector.settings, engine.dialect.identifier_preparer.quote)
    if read is None:
        return None
    sql, binds = read
    from clinicsync.connectors.sql_session import read_only_connection

    try:
        with read_only_connection(engine, connector.settings.timeout, connector.name) as connection:
            return int(connection.execute(text(f"SELECT COUNT(*) FROM (\n{sql}\n) AS q"), binds).scalar_one())
    except SQLAlchemyError:
        return None


def findings(kept: Kept, mapped: int, pairs: int, whole: int | None, start: str | None,
             settings: Settings) -> list[tuple[str, str]]:
    """The errors of a rehearsed import, each (the field it is about, the message): ``mapped``
    records `check` mapped, ``pairs`` their distinct (id, start), ``whole`` the source's rows read
    without the window, ``start`` the column the start is read from. Nothing kept at all is
    field ``""``: no field's fix alone mends it."""
    if kept.error is not None or not mapped:
        return []  # a safety stop or a failure is told by the run itself; nothing read is NOTHING_READ's
    if not kept.live:
        how = ", ".join(f"{n} {what}" for n, what in ((kept.deleted, "deleted"), (kept.quarantined, "quarantined"))
                        if n)
        return [("", f"a sync would store none of the {mapped} record(s) that map ({how or 'none kept'}): the "
                "first sync imports nothing. Check what marks a row deleted in the mapping (a delete flag read "
                "backwards?) and the connector's query")]
    out = []
    if pairs >= MIN_PAIRS and kept.live < HALF * pairs:
        out.append(("external_id",
                    f"external_id: {pairs} visits read (distinct id and start) are kept as {kept.live}: rows of "
                    "different times share an id, so a sync keeps one visit per id and drops the others. "
                    "external_id is likely a patient's, a slot's or a service's key: map it from the visit row's "
                    "own key (its primary key)"))
    needs = Needs.of(settings)
    if not kept.upcoming and (needs.reminders or needs.doctors) and whole is not None and whole > mapped:
        column = f" ('{start}')" if start else ""
        if kept.quarantined:  # the visits ahead may be the rows held back: their cause comes first
            out.append(("start",
                        f"start{column}: none of the {kept.live} visit(s) a sync would store starts after now, and "
                        f"{kept.quarantined} record(s) are quarantined: the visits ahead are likely among them. Mend "
                        "what quarantines them first (the lines above: an unknown status word or code is given its "
                        "status in the mapping's status_map), then run `clinicsync check` again"))
            return out
        out.append(("start",
                    f"start{column}: none of the {kept.live} visit(s) a sync would store starts after now, while "
                    f"the query without its window returns {whole} rows: nobody is reminded and no calendar shows "
                    "a visit ahead. The window is likely on a column that is not the visit's time (a creation or "
                    "change date) or the query reads the wrong table: map start to the visit's own date-time "
                    "(run `clinicsync discover` again), or pass --allow-implausible if the clinic books nothing "
                    "ahead yet"))
    return out
