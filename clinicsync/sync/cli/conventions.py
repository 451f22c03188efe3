"""How the command line speaks around the commands themselves:

- a usage error (an unknown option, a value that is no integer, a word that is no choice)
  is ONE line on stderr naming the command, the option and what it takes, exit 2 — typer's
  default draws a box of five lines around it, which scripts and logs cannot read;
- `--help` piped (into `less`, `grep`, a file) is click's plain help: no box characters and
  nothing cut with `…` at 80 columns, as typer's rich help is when it cannot see a terminal.
  On a terminal, help stays rich.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

from typer.core import TyperCommand, TyperGroup

PIPED_WIDTH = 1000  # wide enough that no option, no summary is cut (a pager wraps long lines)
USAGE = 2  # click's exit code for a usage error (and ours for a bad setting)


def one_line(error: Any) -> str:
    """`clinicsync appointments list: No such option: --frm (Possible options: --format, --from);
    see `clinicsync appointments list --help``: the command, the option, what it takes.

    ``error`` is a click exception; typer 0.29 carries its own copy of click, so it is
    read by its interface (format_message, exit_code, ctx), not by its class."""
    ctx = getattr(error, "ctx", None)
    where = ctx.command_path if ctx is not None else "clinicsync"
    message = " ".join(str(error.format_message()).split())
    if getattr(error, "exit_code", None) == USAGE:
        head, said, tail = message.partition(" Did you mean ")
        message = f"{head} (did you mean {tail.rstrip('?')}?)" if said else message
        return f"{where}: {message}; see `{where} --help`"
    return f"{where}: {message}"


def _print_one_line(error: Any) -> None:
    if type(error).__name__ == "NoArgsIsHelpError":  # the help itself, not an error:
        text = str(error.format_message())  # empty when rich drew it on the terminal already
        if text:
            sys.stdout.write(text.rstrip("\n") + "\n")
            sys.stdout.flush()
        return
    sys.stderr.write(one_line(error) + "\n")
    sys.stderr.flush()


def _plain_when_piped(original: Callable[..., Any]) -> Callable[..., Any]:
    def format_help(self: TyperCommand | TyperGroup, ctx: Any, formatter: Any) -> Any:
        if sys.stdout.isatty():
            return original(self, ctx, formatter)
        saved, self.rich_markup_mode = self.rich_markup_mode, None
        formatter.width = PIPED_WIDTH  # a summary line is cut to fit the width: give it all
        try:
            return original(self, ctx, formatter)
        finally:
            self.rich_markup_mode = saved

    return format_help


RICH_UTILS = "typer.rich_utils"


def _patch_rich_utils(module: ModuleType) -> None:
    module.rich_format_error = _print_one_line  # type: ignore[attr-defined]


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches typer.rich_utils as it is imported. typer imports it only to draw rich help or an
    error, and it costs ~0.1 s of CPU (rich's markdown, syntax and traceback modules): `status`
    and every command that runs without an error never import it."""

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> ModuleSpec | None:
        if name != RICH_UTILS:
            return None
        sys.meta_path.remove(self)  # once: the module's own spec, found by the other finders
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        loader, run = spec.loader, spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            _patch_rich_utils(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Apply both conventions to every typer command (idempotent)."""
    if RICH_UTILS in sys.modules:
        _patch_rich_utils(sys.modules[RICH_UTILS])
    elif not any(isinstance(finder, _PatchOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())
    for cls in (TyperCommand, TyperGroup):
        if not getattr(cls.format_help, "_plain_when_piped", False):
            wrapped = _plain_when_piped(cls.format_help)
            wrapped._plain_when_piped = True  # type: ignore[attr-defined]
            cls.format_help = wrapped  # type: ignore[method-assign]
