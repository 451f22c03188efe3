"""Fewer garbage-collector passes while a bulk stage runs, and none while the CLI starts.

An import builds hundreds of thousands of small containers (parsed JSON, CSV rows, mapped
values, rows for the driver) that stay alive until their batch is stored. CPython runs a
young-generation pass every 700 net container allocations and, from time to time, a pass over
the whole heap, which then holds all of them: on W1 (CSV) and W2 (FHIR) a fifth of the CPU
went to passes that freed nothing. Reference counting still frees everything at once; only
reference cycles wait for a pass, and an import makes few. So while a bulk stage runs the
first threshold is raised (passes run about seventy times less often) and restored after.

The thresholds are the interpreter's, shared by every thread: nested or concurrent stages
(a service's sync and its dispatcher) count their entries, the first raises and the last
restores, so no stage leaves the interpreter tuned behind it.

A CLI process's start (typer, SQLAlchemy, pydantic and the settings models, the settings
file) builds some 100,000 container objects that live as long as the process and almost no
garbage: `clinicsync status` left ~800 objects in cycles, yet the collector ran ~180 passes over the
growing heap, one of them over all of it: ~60 ms, a tenth of the command's CPU.
So the collector is paused from the command's entry (:func:`pause_during_start`) to
the end of the root callback (:func:`resume_after_start`), when the settings are loaded and
the command's own work begins; what the start built is then frozen (``gc.freeze``) so that
no later pass walks it again, and the few cycles of garbage among it (~800 objects for
`status`) stay for the process's life.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Young-generation allocations between passes while a bulk stage runs (the default is 700).
BULK_THRESHOLD = 50_000

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] | None = None
_paused_for_start = False


@contextmanager
def bulk_stage() -> Iterator[None]:
    """Raise the collector's first threshold for the duration of the block."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            if 0 < _saved[0] < BULK_THRESHOLD:  # 0: collection is off; larger: someone tuned it already
                gc.set_threshold(BULK_THRESHOLD, *_saved[1:])
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None


def pause_during_start() -> None:
    """Switch collection off until :func:`resume_after_start` (a process that switched it off
    itself keeps its choice): called by the CLI's entry, never on import, so a test process
    importing the CLI collects as usual."""
    global _paused_for_start
    if gc.isenabled():
        gc.disable()
        _paused_for_start = True


def resume_after_start() -> None:
    """Freeze what the start built and switch collection back on; nothing when
    :func:`pause_during_start` did not pause it (a test's in-process invocation)."""
    global _paused_for_start
    if _paused_for_start:
        _paused_for_start = False
        gc.freeze()
        gc.enable()
