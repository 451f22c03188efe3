"""The service loop: one thread per job, each asleep on the shared stop event until its
job is due, so a signal wakes every thread at once and nothing ever spins. The sources'
polls are one job, ``polls``: a bounded pool with its own scheduler (polls.py), not a thread
per source.

Stopping: ``stop`` is set (SIGTERM/SIGINT or a resident job that died); sleeping jobs
return at once, running ones return at their next safe point (a poll after its next
stored batch), and ``shutdown`` waits for them at most ``grace``. A job still running
then is abandoned: its open transaction rolls back when the process exits, and its
work is picked up by the next run, as after a crash.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from clinicsync.common.types import utcnow
from clinicsync.sync.service.jobs import Job, PeriodicJob, ResidentJob, ServiceContext
from clinicsync.sync.service.outcome import failure, where
from clinicsync.sync.service.wake import Wake
from clinicsync.sync.store.locks import store_lane

log = structlog.get_logger("clinicsync.service")
Clock = Callable[[], datetime]


_failure, _where = failure, where  # shared with the poll pool (outcome.py)


@dataclass
class Service:
    ctx: ServiceContext
    jobs: list[Job]
    clock: Clock = utcnow
    failed: bool = False  # a resident job died: the process should exit non-zero
    on_stop: Callable[[], None] | None = None  # wakes the main thread when the service stops itself
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        # Said before the first thread starts: a job quick to finish (the waiting list's offers,
        # the stages' first pass on an idle store) would otherwise log before the service did.
        log.info("service.started", jobs=[job.name for job in self.jobs])
        for job in self.jobs:
            self.ctx.board.add(job.name)
            target = self._periodic if isinstance(job, PeriodicJob) else self._resident
            # daemon: a job still running after the grace must not keep the process alive
            thread = threading.Thread(target=target, args=(job,), name=f"job:{job.name}", daemon=True)
            self._threads.append(thread)
            thread.start()
            if isinstance(job, PeriodicJob) and job.wake is not None:
                self._ring_on_stop(job.wake)

    def stop(self) -> None:
        self.ctx.stop.set()

    def shutdown(self, grace: timedelta) -> list[str]:
        """Stop, wait up to ``grace`` for the jobs, and name those still running."""
        self.stop()
        deadline = time.monotonic() + grace.total_seconds()
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = [thread.name.removeprefix("job:") for thread in self._threads if thread.is_alive()]
        if left:
            log.warning("service.abandoned", jobs=left,
                        detail="still running after the grace; their open transactions roll back")
        log.info("service.stopped", clean=not left and not self.failed)
        return left

    def _ring_on_stop(self, wake: Wake) -> None:
        """A job asleep on its wake-up call wakes when the service stops, however it stops
        (a signal, a resident job that died): one small thread waits on the stop event."""
        def ring() -> None:
            self.ctx.stop.wait()
            wake.ring()
        threading.Thread(target=ring, name="wake-on-stop", daemon=True).start()

    # -- one thread per job ---------------------------------------------------------------------
    def _periodic(self, job: PeriodicJob) -> None:
        stop = self.ctx.stop
        timezone = self.ctx.settings.clinic.timezone
        lane = store_lane(self.ctx.store.engine) if job.writes_store else contextlib.nullcontext()
        due: datetime | None = None
        structlog.contextvars.bind_contextvars(job=job.name)
        while not stop.is_set():
            now = self.clock()
            due = job.schedule.next_due(due, now, timezone)
            self.ctx.board.due(job.name, due)
            delay = (due - now).total_seconds()
            if delay > 0 and self._sleep(job, delay):
                break
            if job.wake is not None and job.wake.rung() and self.clock() < due:
                due = self.clock()  # woken early: the next scheduled pass counts from this one
            with lane:
                if stop.is_set():
                    break
                if job.wake is not None:
                    job.wake.take()  # a ring from now on asks for the next pass
                self._run(job)

    def _sleep(self, job: PeriodicJob, delay: float) -> bool:
        """Sleep until the job is due, or (a job with a wake-up call) until it is rung and
        ``job.settle`` more seconds have passed, so that rings close together make one pass.
        True when the service is stopping."""
        stop = self.ctx.stop
        if job.wake is None:
            return stop.wait(delay)
        if job.wake.wait(delay) and not stop.is_set():
            return stop.wait(job.settle)
        return stop.is_set()

    def _run(self, job: PeriodicJob) -> None:
        self.ctx.board.started(job.name)
        error: str | None
        try:
            result = job.run(self.ctx)
            error = _failure(result)
            log.info("job.finished", failed=error is not None, result=dict(result) if result else None)
        except Exception as exc:  # one job failing must not stop the service
            error = _where(exc)
            log.error("job.crashed", error=error)
        self.ctx.board.finished(job.name, error)

    def _resident(self, job: ResidentJob) -> None:
        structlog.contextvars.bind_contextvars(job=job.name)
        self.ctx.board.started(job.name)
        error: str | None = None
        try:
            job.run(self.ctx)
        except Exception as exc:
            error = _where(exc)
            log.error("job.crashed", error=error)
        finally:
            if not self.ctx.stop.is_set():
                self.failed = True
                error = error or "returned while the service was running"
                log.error("service.resident_job_ended", detail=error)
                self.ctx.stop.set()
                if self.on_stop is not None:
                    self.on_stop()
            self.ctx.board.finished(job.name, error)
