"""The end of a `clinicsync` process: what the interpreter's own end does that anyone can see,
without the teardown nobody sees.

After a command returns, Python's finalization frees every module and object one by one: ~35 M
instructions of an idle `sync --once` of a CSV source, ~63 M of a SQL one (3-4 % of
the run). A command whose resources are all closed when it returns (its store disposed by the
context, its sources' connections closed by the run, its files written under ``with``) asks for
:func:`skip_teardown`; the process's entry (:func:`run`, what the console script and ``python -m
clinicsync`` call) then does what finalization does first, in its order — waits for the
threads that are not daemons (``threading._shutdown``), runs the ``atexit`` functions (logging's
shutdown, ``weakref.finalize`` callbacks), flushes stdout and stderr — and ends with the same
exit code by ``os._exit``. Anything unusual takes the ordinary way: an exit code that is not a
number (SystemExit("message") prints it), an exception, a stream that cannot be flushed (a closed
pipe: Python's own message and code 120), or a command that did not ask. A command called in the
same process (tests, `app([...])`) is never ended: only :func:`run` ends the process."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, NoReturn

_skip = False


def skip_teardown() -> None:
    """Called by a command that leaves nothing open for finalization to close (see the module)."""
    global _skip
    _skip = True


def run(app: Callable[[], Any]) -> NoReturn:
    """Run the command line's command; end the process without the teardown when it asked."""
    try:
        result = app()
    except SystemExit as exc:
        result = exc.code
    if not _skip or not (result is None or isinstance(result, int)):
        sys.exit(result)  # what the console script did with it: sys.exit(app())
    _end(result)


def _end(code: int | None) -> NoReturn:
    threading._shutdown()  # type: ignore[attr-defined]  # what Py_FinalizeEx runs first
    atexit._run_exitfuncs()  # then the atexit functions (cleared: a fallback does not run them twice)
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(code)  # the ordinary end reports the stream as it always did
    os._exit(code or 0)
