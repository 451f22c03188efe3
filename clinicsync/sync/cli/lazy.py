"""Commands that are imported only when they run.

`clinicsync --help` and `clinicsync status` used to import every command module, and with
them FastAPI, botocore, alembic and the FHIR auth stack: seconds of CPU before the first
line. The root group lists each lazy command by its name and one-line
help from a registry, and imports its module only when that command is the one invoked
(or its own `--help` is asked for). A test loads every entry and checks that the registry's
help still opens the module's own help, so the two cannot drift apart.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer import _click as click  # typer 0.29 carries its own click: its groups take these types
from typer.core import TyperCommand, TyperGroup

from clinicsync.sync.cli import guide


@dataclass(frozen=True)
class LazyCommand:
    """One command: where it lives and what `--help` says of it without importing it.

    ``target`` is ``module:attribute``; the attribute is a ``typer.Typer`` (a command group,
    e.g. `appointments`) or a command function (e.g. `run`)."""

    name: str
    target: str
    help: str

    def load(self) -> click.Command:
        module_name, _, attribute = self.target.partition(":")
        value = getattr(importlib.import_module(module_name), attribute)
        if isinstance(value, typer.Typer):
            return typer.main.get_group(value)
        single = typer.Typer(add_completion=False)
        single.command(self.name)(value)
        return typer.main.get_command(single)


class _Placeholder(TyperCommand):
    """What the root's help lists for a command not imported yet: its name and help only."""

    def __init__(self, entry: LazyCommand) -> None:
        super().__init__(name=entry.name, help=entry.help, short_help=entry.help)
        self.entry = entry


def loaded(command: click.Command) -> click.Command:
    """``command`` itself, or for a lazy command not imported yet, the real one (its module
    imported): for code that walks the whole command tree (tests, docs)."""
    return command.entry.load() if isinstance(command, _Placeholder) else command


def lazy_group(entries: tuple[LazyCommand, ...]) -> type[TyperGroup]:
    """A root group class (``typer.Typer(cls=…)``) that lists ``entries`` and imports one on use."""

    class LazyGroup(TyperGroup):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            for entry in entries:
                self.commands.setdefault(entry.name, _Placeholder(entry))
            self.epilog = guide.epilog("")

        def list_commands(self, ctx: click.Context) -> list[str]:
            """In panel order (Set up, Daily, Inspect, Operate), as `--help` shows them."""
            names = list(self.commands)
            return sorted(names, key=lambda name: _panel_rank(self.commands[name]))

        def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
            return _guided(name, super().get_command(ctx, name))

        def resolve_command(self, ctx: click.Context, args: list[str]
                            ) -> tuple[str | None, click.Command | None, list[str]]:
            name, command, rest = super().resolve_command(ctx, args)
            if isinstance(command, _Placeholder) and name is not None:
                command = self.commands[name] = command.entry.load()
            return name, _guided(name, command), rest

        def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
            """Plain help (piped): one section per panel, as rich help draws one box per panel."""
            rows: dict[str, list[tuple[str, str]]] = {}
            for name in self.list_commands(ctx):
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                panel = getattr(command, "rich_help_panel", None) or "Commands"
                rows.setdefault(panel, []).append((name, command.get_short_help_str(formatter.width)))
            for panel, panel_rows in rows.items():
                with formatter.section(panel):
                    formatter.write_dl(panel_rows)

    return LazyGroup


def _guided(name: str | None, command: click.Command | None) -> click.Command | None:
    """``command`` with its `--help` panel and examples from guide.py (set once, in place)."""
    if command is not None and name is not None and name in guide.PANEL:
        command.rich_help_panel = guide.PANEL[name]  # type: ignore[attr-defined]
        if not command.epilog:
            command.epilog = guide.epilog(name)
    return command


def _panel_rank(command: click.Command) -> int:
    panel = getattr(command, "rich_help_panel", None) or guide.PANEL.get(command.name or "")
    return guide.PANELS.index(panel) if panel in guide.PANELS else len(guide.PANELS)
