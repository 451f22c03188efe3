"""Where pushes run (sync/server/push_lane.py): on SQLite one at a time on the app's writer
thread, whatever the number of requests in flight; on PostgreSQL side by side in the thread
pool, as before. And the lane keeps what ``run_in_threadpool`` gave a push: its errors, the
caller's context variables, a caller that waits for the push even when cancelled."""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.push import PushReceiver
from clinicsync.sync.server import push_lane
from clinicsync.sync.server.app import create_app
from clinicsync.sync.server.push_lane import PushLane
from clinicsync.sync.settings import Settings, load_settings
from clinicsync.sync.store import Store
from tests.server.booking_support import appointments, client_for, fixture, hex_hmac

pytestmark = pytest.mark.anyio
KEY = "csk_test-lane-0123456789abcdefghijklmnopqrstu"
SECRET = "test-cal-secret"
REQUESTS = 8


@pytest.fixture
def settings(write_settings: Callable[..., Path], tmp_path: Path) -> Settings:
    (tmp_path / "cal.secret").write_text(SECRET + "\n", encoding="utf-8")
    return load_settings(write_settings(connectors=f"""
- name: website
  kind: rest_api
  api_keys: [{{name: site, sha256: {key_digest(KEY)}}}]
- name: booking
  kind: calcom
  secret_file: cal.secret
"""))


def _booking(n: int) -> dict[str, Any]:
    return {"id": f"L-{n}", "status": "booked", "start": "2031-03-12T09:30:00-04:00", "duration_minutes": 30,
            "timezone": "America/New_York", "type": "Follow-up",
            "patient": {"id": f"P-{n}", "name": "Ana Ruiz", "phone": "(212) 555-0101"},
            "practitioner": {"id": "D-1", "name": "Dr. Amelia Hart"}}


def _calcom(n: int) -> bytes:
    data = json.loads(fixture("calcom", "booking_created.json"))
    data["createdAt"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    data["payload"].update(uid=f"lane-{n}", startTime="2031-01-01T10:00:00Z", endTime="2031-01-01T10:30:00Z")
    return json.dumps(data, separators=(",", ":")).encode()


class _Watch:
    """PushReceiver.receive wrapped: how many run at once at most, on which threads. Where
    pushes may overlap (PostgreSQL), each waits until a second one has started, so the overlap
    is seen, not hoped for; on SQLite each lingers 20 ms, time for another to start beside it
    if the lane let it."""

    def __init__(self, original: Callable[..., Any], wait_for_company: bool) -> None:
        self._original = original
        self._wait = wait_for_company
        self._changed = threading.Condition()
        self._active = 0
        self.peak = 0
        self.threads: set[int] = set()
        self.names: set[str] = set()

    def receive(self, receiver: PushReceiver, *args: Any, **kwargs: Any) -> Any:
        with self._changed:
            self._active += 1
            self.peak = max(self.peak, self._active)
            self.threads.add(threading.get_ident())
            self.names.add(threading.current_thread().name)
            self._changed.notify_all()
            if self._wait:
                self._changed.wait_for(lambda: self.peak >= 2, timeout=10)
        try:
            time.sleep(0.02)
            return self._original(receiver, *args, **kwargs)
        finally:
            with self._changed:
                self._active -= 1


async def test_concurrent_pushes_run_one_at_a_time_on_sqlite_only(settings: Settings, store: Store,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    sqlite = store.engine.dialect.name == "sqlite"
    watch = _Watch(PushReceiver.receive, wait_for_company=not sqlite)
    monkeypatch.setattr(PushReceiver, "receive", lambda receiver, *args, **kwargs: watch.receive(receiver, *args,
                                                                                                  **kwargs))
    app = create_app(settings, store)
    assert app.state.push_lane.serial is sqlite
    async with client_for(app) as client:
        rest = [client.post("/api/v1/appointments", json=_booking(n), headers={"Authorization": f"Bearer {KEY}"})
                for n in range(REQUESTS // 2)]
        hooks = [client.post("/webhooks/calcom/booking", content=raw,
                             headers={"Content-Type": "application/json", "X-Cal-Signature-256": hex_hmac(SECRET, raw)})
                 for raw in map(_calcom, range(REQUESTS // 2))]
        answers = await asyncio.gather(*rest, *hooks)
    assert [a.status_code for a in answers] == [201] * (REQUESTS // 2) + [200] * (REQUESTS // 2)
    assert {a.json()["result"] for a in answers} == {"created"}
    assert len(appointments(store)) == REQUESTS
    if sqlite:
        assert (watch.peak, len(watch.threads), watch.names) == (1, 1, {"clinicsync-push"})
    else:  # the thread pool, several pushes at once
        assert watch.peak >= 2 and len(watch.threads) >= 2 and "clinicsync-push" not in watch.names


@pytest.fixture
def lane(store: Store) -> PushLane:
    found = PushLane(store)
    assert found.serial
    return found


SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


@SQLITE_ONLY
async def test_the_writer_passes_errors_and_context_and_keeps_order(lane: PushLane) -> None:
    def fail() -> None:
        raise ValueError("does not map")

    with pytest.raises(ValueError, match="does not map"):
        await lane.run(fail)
    REQUEST_ID.set("r-7")
    seen: list[tuple[int, str]] = []
    await asyncio.gather(*(lane.run(lambda n=n: seen.append((n, REQUEST_ID.get()))) for n in range(20)))
    assert seen == [(n, "r-7") for n in range(20)]  # after an error, in the order queued, in the caller's context


@SQLITE_ONLY
async def test_a_cancelled_caller_waits_for_its_push_to_end(lane: PushLane) -> None:
    started, release = threading.Event(), threading.Event()
    ended: list[bool] = []

    def push() -> None:
        started.set()
        release.wait(10)
        ended.append(True)

    async with anyio.create_task_group() as group:
        group.start_soon(lane.run, push)
        await anyio.to_thread.run_sync(started.wait, 10)
        threading.Timer(0.2, release.set).start()
        group.cancel_scope.cancel()
    assert ended == [True]  # not abandoned half-way: the group ended only after the push did


@SQLITE_ONLY
async def test_an_idle_writer_thread_ends_and_the_next_push_starts_another(
        lane: PushLane, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(push_lane, "IDLE_SECONDS", 0.05)
    first = await lane.run(threading.current_thread)
    deadline = time.monotonic() + 5
    while first.is_alive() and time.monotonic() < deadline:
        await anyio.sleep(0.02)
    assert not first.is_alive()
    second = await lane.run(threading.current_thread)
    assert second is not first and second.name == "clinicsync-push"
