"""Does a push into a source of 100k appointments cost the same as into an empty one? In
instructions, which do not move with the machine's load (issue 32's done-when; S1 times it in CPU).

    python -m bench.push_instructions prepare FOLDER ROWS   # a SQLite store: ROWS imported into "scale"
    valgrind --tool=callgrind --callgrind-out-file=/tmp/x.out \\
        .venv/bin/python -m bench.push_instructions push FOLDER N

``prepare`` imports S1's generated export of ROWS rows (0: an empty store) into the source
``scale`` (bench/s1_scale.py), and reconfigures it as a REST API source of the same name.
``push`` makes 20 untimed warm-up pushes, then N more, each a new booking through the real app
in-process (S1's requests, POST /api/v1/appointments). Instructions per push: the difference of
two runs' "Collected" totals, N pushes minus 0 pushes, divided by N; the same for each store.
``baseline FOLDER N``: the same requests into W8's yardstick (bench/push_baseline.py), the same way.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from bench.s1_scale import CONNECTOR, KEY, _booking, _settings

WARM_UP = 20


def prepare(folder: Path, rows: int) -> None:
    """A store in ``folder`` holding ``rows`` appointments of the source (S1's first import)."""
    from bench.data import write_export
    from clinicsync.sync.engine import sync_once
    from clinicsync.sync.store import Store

    (folder / "drop").mkdir(parents=True, exist_ok=True)
    settings = _settings(folder, "csv")
    store = Store.open(settings.store)
    try:
        if rows:
            write_export(folder / "drop" / "export-1.csv", rows)
            report = sync_once(settings, store)
            assert report.connectors[CONNECTOR].as_dict()["error"] is None
            (folder / "drop" / "export-1.csv").unlink()
    finally:
        store.close()


def push(folder: Path, count: int) -> None:
    """``WARM_UP`` + ``count`` pushes of new bookings into the store in ``folder``."""
    import httpx

    from clinicsync.sync.server.app import create_app
    from clinicsync.sync.store import Store

    settings: Any = _settings(folder, "rest_api")
    store = Store.open(settings.store)

    async def push_all() -> None:
        app = create_app(settings, store)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                                     headers={"Authorization": f"Bearer {KEY}"}) as client:
            for number in range(1, WARM_UP + count + 1):
                answer = await client.post("/api/v1/appointments", json=_booking(10_000_000 + number))
                assert answer.status_code == 201, answer.text

    try:
        asyncio.run(push_all())
    finally:
        store.close()


def baseline(folder: Path, count: int) -> None:
    """The same ``WARM_UP`` + ``count`` requests into W8's yardstick (bench/push_baseline.py) on a
    SQLite file in ``folder``: instructions per request of the minimal FastAPI receiver, the gap's
    other end, measured the same way (the same client in process, the same difference of runs)."""
    import httpx

    from bench.push_baseline import app as baseline_app

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "baseline.db").unlink(missing_ok=True)
    app = baseline_app(f"sqlite:///{folder / 'baseline.db'}", KEY, "unused")

    async def push_all() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                                     headers={"Authorization": f"Bearer {KEY}"}) as client:
            for number in range(1, WARM_UP + count + 1):
                answer = await client.post("/api/v1/appointments", json=_booking(10_000_000 + number))
                assert answer.status_code == 201, answer.text

    asyncio.run(push_all())


def main(argv: list[str]) -> None:
    """``prepare``, ``push`` or ``baseline`` FOLDER NUMBER (see the module's docstring)."""
    verb, folder, number = argv
    {"prepare": prepare, "push": push, "baseline": baseline}[verb](Path(folder), int(number))


if __name__ == "__main__":
    main(sys.argv[1:])
