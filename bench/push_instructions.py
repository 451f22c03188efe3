"""Does a push into a source of 100k appointments cost the same as into an empty one? In
instructions, which do not move with the machine's load (S1 times the same in CPU).

    python -m bench.push_instructions prepare FOLDER ROWS   # a SQLite store: ROWS imported into "scale"
    valgrind --tool=callgrind --callgrind-out-file=/tmp/x.out \\
        .venv/bin/python -m bench.push_instructions push FOLDER N

``prepare`` imports S1's generated export of ROWS rows (0: an empty store) into the source
``scale`` (bench/s1_scale.py), and reconfigures it as a REST API source of the same name.
``push`` makes 20 untimed warm-up pushes, then N more, each a new booking through the real app
in-process (S1's requests, POST /api/v1/appointments). Instructions per push: the difference of
two runs' "Collected" totals, N pushes minus 0 pushes, divided by N; the same for each store.
``baseline FOLDER N``: the same requests into W8's yardstick (bench/push_baseline.py), the same way.

``w8 APP ENDPOINT FOLDER N`` (APP ``clinicsync`` or ``baseline``, ENDPOINT ``rest`` or ``calcom``):
W8's own requests (bench/w8_push_api.py, logging warnings only) straight into the ASGI app, a
SQLite store in FOLDER, 30 warm-ups, then N measured; run under
``valgrind --tool=callgrind --instr-atstart=no``, it prints ``READY`` and waits for FOLDER/go
(meanwhile ``callgrind_control -i on PID``), then ``DONE`` and waits for FOLDER/stop (after
``callgrind_control -i off PID``): "Collected" / N is then the instructions per request alone,
and ``callgrind_annotate`` shows only them. Without valgrind it prints the CPU per request.
``PUSH_INSTRUCTIONS_POSTGRES=1``: the store is a fresh PostgreSQL schema (bench/harness.py's, on
``CLINICSYNC_BENCH_POSTGRES`` or the local test server), dropped afterwards.
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
    from clinicsync.sync.ingest.engine import sync_once
    from clinicsync.sync.store.store import Store

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
    from clinicsync.sync.store.store import Store

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


def w8(app_name: str, endpoint: str, folder: Path, count: int) -> None:
    """W8's requests through the app in process, instrumented only around the ``count`` measured;
    with ``PUSH_INSTRUCTIONS_POSTGRES=1`` into a fresh PostgreSQL schema (the client's instructions:
    the server's are another process's)."""
    import os

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    folder.mkdir(parents=True, exist_ok=True)
    if os.environ.get("PUSH_INSTRUCTIONS_POSTGRES"):  # a fresh PostgreSQL schema (bench/harness.py), dropped after
        from bench.harness import postgres_schema

        with postgres_schema() as url:
            _w8(app_name, endpoint, folder, count, url)
    else:
        _w8(app_name, endpoint, folder, count, f"sqlite:///{folder / 'store.db'}")


def _w8(app_name: str, endpoint: str, folder: Path, count: int, url: str) -> None:
    import os
    import time

    from bench import w8_push_api

    if app_name == "clinicsync":
        app = w8_push_api.clinicsync_app(url, folder)
    else:
        from bench.push_baseline import app as baseline_app

        app = baseline_app(url, w8_push_api.KEY, w8_push_api.SECRET)
    warm_up = 30
    requests = [_asgi_request(raw) for raw in w8_push_api.requests_for(endpoint, "I", warm_up + count)]

    async def wait_for(name: str) -> None:
        while not (folder / name).exists():
            await asyncio.sleep(0.05)

    async def run_all() -> float:
        for scope, body in requests[:warm_up]:
            await _send(app, scope, body)
        print("READY", flush=True)
        await wait_for("go")
        began = time.process_time()
        for scope, body in requests[warm_up:]:
            await _send(app, scope, body)
        spent = time.process_time() - began
        print("DONE", flush=True)
        await wait_for("stop")
        return spent

    if not os.environ.get("PUSH_INSTRUCTIONS_WAIT"):  # without valgrind: go and stop at once
        (folder / "go").touch()
        (folder / "stop").touch()
    spent = asyncio.run(run_all())
    print(f"{app_name} {endpoint}: {spent / max(count, 1) * 1000:.3f} ms CPU per request", flush=True)


def _asgi_request(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """An HTTP/1.1 request as rendered for the wire, as uvicorn hands it to the app."""
    head, _, body = raw.partition(b"\r\n\r\n")
    first, *lines = head.split(b"\r\n")
    _method, path, _version = first.split(b" ")
    headers = [(name.strip().lower(), value.strip()) for name, _, value in (line.partition(b":") for line in lines)]
    return ({"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path.decode(), "raw_path": path, "query_string": b"",
             "root_path": "", "headers": headers, "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
             "state": {}}, body)


async def _send(app: Any, scope: dict[str, Any], body: bytes) -> None:
    """One request through the ASGI app; it must answer 200 or 201."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.sleep(3600)  # no disconnect while the app answers
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(dict(scope), receive, send)
    assert status and status[0] in (200, 201), status


def main(argv: list[str]) -> None:
    """``prepare``, ``push`` or ``baseline`` FOLDER NUMBER, or ``w8`` APP ENDPOINT FOLDER NUMBER."""
    if argv[0] == "w8":
        _, app_name, endpoint, folder_name, count = argv
        w8(app_name, endpoint, Path(folder_name), int(count))
        return
    verb, folder, number = argv
    {"prepare": prepare, "push": push, "baseline": baseline}[verb](Path(folder), int(number))


if __name__ == "__main__":
    main(sys.argv[1:])
