"""The `clinicsync` command."""

from typing import NoReturn

from typer.core import TyperOption

from clinicsync.common import plugins
from clinicsync.sync.cli import coercion, conventions, process_end
from clinicsync.sync.cli.main import app

_display_type = TyperOption.display_type_rich


def _flags_without_a_type(self: TyperOption, ctx: object) -> str | None:
    """Typer 0.29 prints on/off flags as `--json <bool>`, which reads as if a value were expected."""
    return None if self.is_flag else _display_type(self, ctx)  # type: ignore[arg-type]


TyperOption.display_type_rich = _flags_without_a_type  # type: ignore[method-assign]
conventions.install()  # one-line usage errors, plain help when piped
coercion.install()  # an option left out builds no pydantic TypeAdapter (cron's `sync --once`)


def entry() -> NoReturn:
    """The `clinicsync` console script and `python -m clinicsync`: the command line's command,
    then the process's end (process_end.py: without the interpreter's teardown when the command
    left nothing open). Not ``main``: that name is the package's submodule (cli/main.py).
    The command keeps its scan of the installed plugins between starts (common/plugins.py)."""
    plugins.keep_on_disk()
    process_end.run(app)


__all__ = ["app", "entry"]
