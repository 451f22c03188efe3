"""Progress of a run, stage by stage (each connector's import, then calendar, reminders, …),
as events for whoever watches: a bar on a terminal (sync/cli), a row in the store that
`status` reads from another process (sync/runs/run_progress.py). Core owns this interface and
never renders it, so the engine and the stages know nothing of rich or the CLI."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from clinicsync.common.logs import get_logger

log = get_logger("clinicsync.progress")  # imports structlog when it first logs, not with `status`
Ticker = Callable[[int, "int | None"], None]  # (rows done so far, rows in all when known)


class ProgressObserver:
    """Watches a run's stages. Every method does nothing here: an observer overrides what it needs."""

    def stage_started(self, stage: str, total: int | None = None) -> None:
        """``stage`` began; ``total``: rows it will do, when it knows."""

    def stage_started_lazily(self, stage: str) -> None:
        """``stage`` began, and may end with nothing stored (a poll): an observer that records
        stages in the store waits for ``stage_storing`` before it writes, so that a poll that
        finds nothing leaves no row of its own (sync/runs/run_progress.py RunRecorder). The rest
        see a start."""
        self.stage_started(stage)

    def stage_storing(self, stage: str) -> None:
        """``stage``, started lazily, is about to store something (or has failed)."""

    def stage_advanced(self, stage: str, done: int, total: int | None = None) -> None:
        """``done`` rows so far (a running count, not an increment)."""

    def stage_finished(self, stage: str, error: str | None = None) -> None:
        """``stage`` ended, failed when ``error`` is set."""

    def stages_skipped(self, stages: Sequence[str]) -> None:
        """``stages`` were looked at and had nothing to do (sync/checks/stage_probes.py): here each
        started and finished at once, as an observer that overrides nothing else expects."""
        for stage in stages:
            self.stage_started(stage)
            self.stage_finished(stage)

    def ticker(self, stage: str) -> Ticker:
        """What a stage calls as it goes: ``tick(done, total)``."""

        def tick(done: int, total: int | None = None) -> None:
            self.stage_advanced(stage, done, total)

        return tick


NO_PROGRESS = ProgressObserver()


def no_ticks(done: int, total: int | None = None) -> None:
    """The ticker of a stage nobody watches."""


class Fanout(ProgressObserver):
    """Several observers as one. One that fails is logged and dropped: watching a run must
    never fail it."""

    def __init__(self, observers: Sequence[ProgressObserver]) -> None:
        self.observers = [o for o in observers if o is not NO_PROGRESS]

    def _each(self, method: str, *args: object) -> None:
        for observer in list(self.observers):
            try:
                getattr(observer, method)(*args)
            except Exception as exc:
                log.warning("progress.observer_failed", observer=type(observer).__name__, error=type(exc).__name__)
                self.observers.remove(observer)

    def stage_started(self, stage: str, total: int | None = None) -> None:
        self._each("stage_started", stage, total)

    def stage_started_lazily(self, stage: str) -> None:
        self._each("stage_started_lazily", stage)

    def stage_storing(self, stage: str) -> None:
        self._each("stage_storing", stage)

    def stage_advanced(self, stage: str, done: int, total: int | None = None) -> None:
        self._each("stage_advanced", stage, done, total)

    def stage_finished(self, stage: str, error: str | None = None) -> None:
        self._each("stage_finished", stage, error)

    def stages_skipped(self, stages: Sequence[str]) -> None:
        self._each("stages_skipped", stages)


def import_stage(connector: str) -> str:
    """The stage name of a connector's import, as `status` and the progress bar show it."""
    return f"import {connector}"
