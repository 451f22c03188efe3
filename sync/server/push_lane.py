"""Where a push's blocking part runs: on SQLite one writer thread per app, elsewhere the thread pool.

A push (the REST API's create, replace and cancel; the booking webhooks' apply) is a sync call
made from an async route. On PostgreSQL and MySQL/MariaDB pushes to different appointments
run side by side, so they go to anyio's thread pool (``run_in_threadpool``), as before. On
SQLite every push of a process waits for one lock per database file anyway (push.py
``_Turns``), so with eight requests in flight eight pool threads queued there: each SQLite
statement of the turn's holder releases the GIL inside ``sqlite3_step``, a queued thread
still mapping its record took it, and the holder waited to get it back — 10-17 voluntary
context switches per request at 8 clients against 3-4 at 1, more system CPU per request
(W8, issue 32, stop 45 h/sqlite8). Here the pushes queue for one thread that takes the next
as soon as the last is done: no thread waits at the turn, and only this thread and the event
loop share the GIL. (A ``CapacityLimiter(1)`` in front of the pool was slower: the next push
then starts only after the event loop has seen the last one end.)

The caller waits as ``run_in_threadpool`` makes it wait: shielded from cancellation until the
call returns, in a copy of its context variables. The thread ends after ``IDLE_SECONDS``
without work and a new one starts with the next push.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from anyio import CancelScope
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from clinicsync.sync.store import Store

T = TypeVar("T")
IDLE_SECONDS = 10.0
_Job = Callable[[], None]


class _Writer:
    """One thread, started on demand, running the jobs in the order they were queued."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._guard = threading.Lock()
        self._running = False

    def submit(self, job: _Job) -> None:
        with self._guard:
            self._jobs.put(job)
            if not self._running:
                self._running = True
                threading.Thread(target=self._work, name=self._name, daemon=True).start()

    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._guard:  # a submit holds the guard while it queues: none is lost in between
                    if self._jobs.empty():
                        self._running = False
                        return
                continue
            job()  # never raises: _job hands its outcome to the caller's loop


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _job(loop: asyncio.AbstractEventLoop, future: asyncio.Future[T], call: Callable[[], T]) -> _Job:
    context = contextvars.copy_context()

    def run() -> None:
        try:
            result = context.run(call)
        except BaseException as error:  # the caller re-raises it, as run_in_threadpool would
            loop.call_soon_threadsafe(_settle, future, None, error)
        else:
            loop.call_soon_threadsafe(_settle, future, result, None)

    return run


class PushLane:
    """The app's way to run a push: :meth:`run` awaits ``func(*args, **kwargs)``."""

    def __init__(self, store: Store) -> None:
        self._writer = _Writer("clinicsync-push") if store.engine.dialect.name == "sqlite" else None

    @property
    def serial(self) -> bool:
        """True when pushes run one at a time on the app's writer thread (a SQLite store)."""
        return self._writer is not None

    async def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._writer is None:
            return await run_in_threadpool(func, *args, **kwargs)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._writer.submit(_job(loop, future, partial(func, *args, **kwargs)))
        with CancelScope(shield=True):  # as run_in_threadpool: the push is not abandoned half-way
            result = await future
        return result


def lane(request: Request) -> PushLane:
    """The lane of the request's app (create_app installs one per app)."""
    found: PushLane = request.app.state.push_lane
    return found
