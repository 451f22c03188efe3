"""Log lines per day under cron: `sync --once` and `remind --once`
every 5 minutes of a fake clock for a few days, on the simulation's clinic (its settings,
its CSV drop, its practice database), with standing faults, and the warning and error
lines counted per event and day from the JSON log.

    uv run --frozen python -m tests.simulation.log_repeats [days]

The faults, each a standing condition (the same for hours or days, nobody fixes it):
- day 0 from 08:00: the front desk's export carries a poison row (quarantined, left open);
- day 1, 10:00-16:00: the practice database is unreachable (`pm` fails at each sync);
- day 2, 08:00-20:00: the provider behind the notifier refuses every send (503);
- day 3 on: the CSV source is renamed in the settings and not `source rename`d (orphaned).
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import sys
import tempfile
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import time_machine

from clinicsync.common.logs import configure_logging
from tests.simulation import clinic
from tests.simulation.clinic import Folders, Worker
from tests.simulation.scenario import TZ

START = datetime(2027, 3, 1, 5, 0, tzinfo=TZ)  # a Monday, 06:00 local before the first run
STEP = timedelta(minutes=5)
LEVEL = "warning"
DUMP = False
COLUMNS = clinic.COLUMNS


def _export(days: int, poison: bool) -> str:
    """Visits at 10:00, 11:00 and 15:00 of each day (clearly fake patients)."""
    lines = [",".join(COLUMNS)]
    for day in range(days + 4):
        for n, hour in enumerate((10, 11, 15)):
            start = (START + timedelta(days=day)).replace(hour=hour, minute=0)
            lines.append(",".join([f"F{day:03d}{n}", start.strftime("%Y-%m-%d %H:%M"), "30", "scheduled", "Consulta",
                                   "Centro", f"P{n}", f"Test Patient{n}", f"+3460000000{n}", f"p{n}@example.test",
                                   "es", "sms", "D1", "Doctor Uno", "d1@example.test"]))
    if poison:
        lines.append(",".join([clinic.POISON_ROW_ID, "0001-01-01T00:00:00Z", "30", "scheduled", "Consulta", "Centro",
                               "P0", "Test Patient0", "+34600000000", "p0@example.test", "es", "sms", "D1",
                               "Doctor Uno", "d1@example.test"]))
    return "\n".join(lines) + "\n"


def measure(days: int, folder: Path) -> dict[str, Counter[int]]:
    folders = Folders(folder / "clinic", folder / "elsewhere")
    folders.home.mkdir(parents=True)
    folders.mapping.write_text(clinic.mapping_text(True), encoding="utf-8")
    folders.pm_mapping.write_text(clinic.PM_MAPPING, encoding="utf-8")
    with sqlite3.connect(folders.pm_db) as pm:
        pm.execute(clinic.PM_SCHEMA)
    store_url = f"sqlite:///{folder / 'store.db'}"
    settings = folders.settings

    def write_settings(front: str) -> None:
        settings.write_text(clinic.settings_text(folders, store_url, clinic.OFFSETS, front=front), encoding="utf-8")

    write_settings("front")
    out = io.StringIO()
    per_event: dict[str, Counter[int]] = {}
    with time_machine.travel(START, tick=False) as clock:
        from clinicsync.sync.config.settings import load_settings
        from clinicsync.sync.store.store import Store
        Store.open(load_settings(settings).store).close()  # migrate
        now = START
        outage: contextlib.ExitStack | None = None
        renamed = False
        for tick in range(int(timedelta(days=days) / STEP)):
            now = START + tick * STEP
            clock.move_to(now)
            day = tick * STEP // timedelta(days=1)
            local = now.astimezone(TZ)
            if tick == 0:
                clinic.drop_export(folders, 1, _export(days, poison=True), now)
            if day == 1 and local.hour == 10 and outage is None:
                outage = contextlib.ExitStack()
                outage.enter_context(clinic.unreachable(folders.pm_db))
            if outage is not None and (day, local.hour) >= (1, 16):
                outage.close()
                outage = None
            if day >= 3 and not renamed:
                write_settings("desk")
                renamed = True
            configure_logging(LEVEL, "json", stream=out)
            worker = Worker(folders, folders.home)
            try:
                worker.sync()
                with clinic.provider_refuses(day == 2 and 8 <= local.hour < 20):
                    worker.remind()
            finally:
                worker.close()
            for line in out.getvalue().splitlines():
                event = json.loads(line)
                if DUMP:
                    print(line)
                if event.get("level") in ("warning", "error", "critical"):
                    per_event.setdefault(f"{event['event']} ({event['level']})", Counter())[day] += 1
            out.seek(0)
            out.truncate()
    return per_event


def main() -> None:
    days = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as folder:
        per_event = measure(days, Path(folder))
    print("| event (level) | " + " | ".join(f"day {d}" for d in range(days)) + " |")
    print("| --- |" + " --- |" * days)
    for event, counts in sorted(per_event.items(), key=lambda kv: -sum(kv[1].values())):
        print(f"| `{event}` | " + " | ".join(str(counts.get(d, 0)) for d in range(days)) + " |")


if __name__ == "__main__":
    main()
