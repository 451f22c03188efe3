"""Every reminder row planned from a generated export, pinned by a digest (issue 32).

Why: planning's fast paths (rows bound without SQLAlchemy, placement without objects, NULL
written as a literal) must plan exactly what the plain code planned. The digests below were
recorded on main (b979ef5) before those changes; every column of every row counts, ``id``
included (the dispatcher breaks ties of ``due_at`` by id), so a change of a key, a due time
across a DST change, a quiet-hours move, a status, a reason or the order of the inserts fails
here. Three passes on one SQLite store: a first planning of bench/data.py's export, a second
import with moves (by a day, by hours, onto DST days), cancellations, no-shows, status and type
changes and re-bookings planned at a clock inside the quiet hours, and a re-plan after the
offsets and quiet hours changed.
"""

from __future__ import annotations

import csv
import hashlib
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import time_machine
from sqlalchemy import select

from bench.data import write_export
from clinicsync.sync.config.settings import settings_model
from clinicsync.sync.ingest.engine import sync_once
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store

ROWS = 1500
FIRST = datetime.fromisoformat("2026-11-24T12:00:00+00:00")  # every appointment ahead
SECOND = datetime.fromisoformat("2027-01-06T03:30:00+00:00")  # 22:30 in New York: inside the quiet hours
THIRD = datetime.fromisoformat("2027-01-08T13:10:00+00:00")
# sha256 of the reminder table (every column, by id) after each pass, on main (b979ef5); then
# changed on purpose by issue 57 obs 6, every row of the difference read: visits
# already under way (arrived, checked-in, fulfilled) get no reminders (their 3d/1d/1h rows gone),
# and a 1 h reminder that quiet hours moved to 08:00 for an 08:15 visit — its very last
# moment, missed by any pass a second late — goes at 20:59 the evening before (timing.SEND_ROOM).
DIGESTS = ("eed5c654f6e9b028f67f53e83629d9a1401d4b9321a5d60df1044813d811e8be",
           "2f88bc7457e4b375795d0a92d5a95d43e0d1e7e2f9d7cb80d6995ff3ca439ea3",
           "50b1715b10e9a619669df4b7971967e8b0a9ece34934227b42819f34ede2390b")
DST_DAYS = ("2027-03-14", "2027-03-15", "2027-03-17", "2027-11-07", "2027-11-08", "2027-11-10")


def _settings(folder: Path, reminders: dict[str, Any]) -> Any:
    data = {"clinic": {"timezone": "America/New_York", "default_region": "US"},
            "store": {"url": f"sqlite:///{folder / 'store.db'}"},
            "connectors": [{"name": "w6", "kind": "csv", "mapping": "csv_default", "drop_dir": str(folder / "drop"),
                            "settle_seconds": 0}],
            "calendar": {"provider": "none"}, "reminders": {"enabled": True, **reminders}}
    return settings_model().model_validate(data, context={"base_dir": folder})


def _changed(source: Path, target: Path) -> None:
    """The export as a second sync sees it: a fifth of the rows changed, some re-booked."""
    rng = random.Random(7)
    with source.open(newline="") as handle:
        head, *body = list(csv.reader(handle))
    col = {name: at for at, name in enumerate(head)}
    extra = []
    for row in body:
        draw, text = rng.random(), row[col["start"]]
        try:
            start = datetime.fromisoformat(text[:16].replace("T", " "))
        except ValueError:
            continue  # a bad row stays bad
        if 0.19 <= draw < 0.20:
            start = datetime.fromisoformat(f"{rng.choice(DST_DAYS)} {rng.choice(['01:30', '03:15', '08:00', '23:30'])}")
        elif draw < 0.04:
            start += timedelta(days=1)
        elif draw < 0.08:
            start -= timedelta(hours=3)
        elif draw < 0.10:
            start += timedelta(hours=3)
        else:
            start = None  # type: ignore[assignment]
        if start is not None:
            row[col["start"]] = start.strftime("%Y-%m-%d %H:%M")
            row[col["end"]], row[col["duration_minutes"]] = "", "30"
        elif draw < 0.13:
            row[col["status"]] = "cancelled"
        elif draw < 0.14:
            row[col["status"]] = "no-show"
        elif draw < 0.16:
            row[col["status"]] = "confirmed" if row[col["status"]] != "confirmed" else "scheduled"
        elif draw < 0.18:
            row[col["type"]] = "Follow-up" if row[col["type"]] != "Follow-up" else "New patient"
        elif draw < 0.19:
            row[col["status"]] = "completed"
        elif draw < 0.21:  # cancelled, and booked again under a new id
            again = list(row)
            again[col["appointment_id"]] = "R" + row[col["appointment_id"]][1:]
            row[col["status"]] = "cancelled"
            extra.append(again)
    with target.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows([head, *body, *extra])


def _digest(store: Store) -> str:
    digest = hashlib.sha256()
    with store.engine.connect() as connection:
        for row in connection.execute(select(REMINDERS).order_by(REMINDERS.c.id)):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def test_planned_rows_match_main(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    write_export(tmp_path / "export.csv", ROWS, doctors=2)
    (drop / "export.csv").write_bytes((tmp_path / "export.csv").read_bytes())
    settings = _settings(tmp_path, {})
    store = Store.open(settings.store)
    found = []
    try:
        sync_once(settings, store)
        first = plan(settings, store, now=FIRST)
        found.append(_digest(store))
        _changed(tmp_path / "export.csv", drop / "export.csv")
        with time_machine.travel(SECOND, tick=False):  # stored when planned (a later plan starts from the store's time)
            sync_once(settings, store)
        second = plan(settings, store, now=SECOND)
        found.append(_digest(store))
        changed = _settings(tmp_path, {"offsets": ["3d", "1d"], "quiet_hours": {"start": "20:00", "end": "09:30"}})
        third = plan(changed, store, now=THIRD)
        found.append(_digest(store))
    finally:
        store.close()
    assert first.planned > 3000 and second.cancelled and second.skipped and third.replanned, (first, second, third)
    assert tuple(found) == DIGESTS
