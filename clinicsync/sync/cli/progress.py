"""The run's progress on a terminal: one line per stage (each connector's import, calendar,
reminders, …) with its rows, rate, elapsed time and, when the stage knows its total, a bar
and an ETA. Drawn on stderr, and only on a terminal: a pipe, a file or --json get nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from clinicsync.sync.cli.terminal import real_console
from clinicsync.sync.runs.progress import NO_PROGRESS, ProgressObserver


class RowsColumn(ProgressColumn):
    """'1,200 rows' or '1,200/5,000 rows'."""

    def render(self, task: Task) -> Text:
        done = f"{int(task.completed):,}"
        return Text(f"{done}/{int(task.total):,} rows" if task.total is not None else f"{done} rows")


class RateColumn(ProgressColumn):
    """'350 rows/s' once there is a rate to show."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "", style="progress.data.speed")


class EtaColumn(TimeRemainingColumn):
    """The time left, only where a total is known (a guess without one would be a lie)."""

    def render(self, task: Task) -> Text:
        return super().render(task) if task.total is not None and not task.finished else Text("")


class StageSpinner(SpinnerColumn):
    """A spinner while the stage runs; a dot once it stopped (its total may never be known)."""

    def render(self, task: Task) -> Text:
        return self.finished_text if task.stop_time is not None else super().render(task)  # type: ignore[return-value]


class BarWhenKnown(BarColumn):
    def render(self, task: Task) -> Text:  # type: ignore[override]
        return super().render(task) if task.total is not None else Text("")  # type: ignore[return-value]


class TerminalProgress(ProgressObserver):
    """A rich Progress fed by the run's stage events."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def stage_started(self, stage: str, total: int | None = None) -> None:
        self.tasks[stage] = self.progress.add_task(stage, total=total)

    def stage_advanced(self, stage: str, done: int, total: int | None = None) -> None:
        if stage in self.tasks:
            self.progress.update(self.tasks[stage], completed=done, total=total)

    def stage_finished(self, stage: str, error: str | None = None) -> None:
        task = self.tasks.pop(stage, None)
        if task is None:
            return
        state = "[red]failed[/red]" if error else "[green]done[/green]"
        self.progress.update(task, description=f"{stage} {state}")
        self.progress.stop_task(task)  # its clock and its spinner stop; the line stays


@contextmanager
def stage_progress(console: Console, enabled: bool) -> Iterator[ProgressObserver]:
    """Bars on ``console`` when it is a terminal and ``enabled``; else an observer that draws nothing."""
    if not enabled or not console.is_terminal:
        yield NO_PROGRESS
        return
    with Progress(StageSpinner(finished_text="•"), TextColumn("{task.description}"), BarWhenKnown(bar_width=24),
                  RowsColumn(), RateColumn(), TimeElapsedColumn(), EtaColumn(), console=real_console(console),
                  transient=False) as progress:
        yield TerminalProgress(progress)
