"""The CLI's consoles and its piped tables, without importing rich until something is drawn.

rich (its console, with its styles, emoji table and segment code) is ~75 M instructions to
import, and drawing the sync report's table ~25 M more: a fifth of the work left in an idle
`sync --once` under cron. Under cron the report goes to a file or a pipe, where
rich draws nothing a plain writer could not: aligned columns with no box. So:

- ``out_console`` / ``err_console`` (context.py) are :class:`LazyConsole`: rich's console is
  made the first time one is used (a table on a terminal, an error message), never by import;
- :func:`is_terminal` answers as rich's ``Console.is_terminal`` does (``TTY_COMPATIBLE``,
  ``FORCE_COLOR``, ``isatty``), without it;
- piped, the sync report is written by output.py's ``plain_lines`` (the lists' plain format:
  aligned columns, no box, no trailing blanks) instead of a rich table without its box.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any


class LazyConsole:
    """Stands for ``consoles.FullWidthWhenPiped(stderr=...)``: every attribute, read or set, is
    the real console's, made on first use."""

    def __init__(self, stderr: bool = False) -> None:
        object.__setattr__(self, "_stderr", stderr)
        object.__setattr__(self, "_console", None)

    def _real(self) -> Any:
        console = object.__getattribute__(self, "_console")
        if console is None:
            from clinicsync.sync.cli.consoles import FullWidthWhenPiped

            console = FullWidthWhenPiped(stderr=object.__getattribute__(self, "_stderr"))
            object.__setattr__(self, "_console", console)
        return console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._real(), name, value)

    # What Python looks up on the type, not through __getattr__ (rich's Progress and Live enter
    # their console: `with console:`).
    def __enter__(self) -> Any:
        return self._real().__enter__()

    def __exit__(self, *exc: object) -> Any:
        return self._real().__exit__(*exc)


def real_console(console: Any) -> Any:
    """The rich console behind ``console`` (a LazyConsole made real), for rich's own classes
    that check what they are given (Progress(console=...))."""
    return console._real() if isinstance(console, LazyConsole) else console


def is_terminal(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (stdout) is a terminal, by rich's rules: ``TTY_COMPATIBLE`` 0/1 decides,
    else a set ``FORCE_COLOR`` (non-empty: yes), else the stream's ``isatty``."""
    stream = stream if stream is not None else sys.stdout
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "1"
    force = os.environ.get("FORCE_COLOR")
    if force is not None:
        return force != ""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream
        return False
