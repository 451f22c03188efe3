"""What every command shares: the loaded settings, the open store, and output helpers.

Settings and the store are imported when a command first asks for them, not here: every
command imports this module, and `--help` must not pay for pydantic models and SQLAlchemy."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar, cast

import typer
from typer._click.globals import get_current_context  # typer 0.29 carries its own click

from clinicsync.sync.cli.output import print_json  # noqa: F401 - re-exported for the commands
from clinicsync.sync.cli.terminal import LazyConsole, is_terminal

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console

    from clinicsync.sync.config.settings import Settings, StoreSettings
    from clinicsync.sync.store.store import Store
    from clinicsync.sync.store.tables import HasEngine, StoreEngine

Opened = TypeVar("Opened")

EXIT_FAILED = 1
EXIT_CONFIG = 2
# Commands that read the store and the settings but talk to no source, channel, calendar or
# HTTP client: they run without those peers' secrets in the environment.
# Every other command reports an unset ${VAR} of settings.yaml as before (exit 2, the key
# and its line): a command left off this list is strict, never silently without a secret.
LOCAL_COMMANDS = frozenset({
    "status", "config validate", "db upgrade", "demo reset",
    "appointments list", "appointments show", "quarantine list", "quarantine dismiss",
    "reminders list", "set-aside list", "templates check",
})
# rich's consoles, made when first used (terminal.py): a piped idle `sync --once` imports no rich.
err_console: Console = cast("Console", LazyConsole(stderr=True))
out_console: Console = cast("Console", LazyConsole())


def say_plain(text: str, err: bool = False) -> None:
    """One line of text as it is (no markup read, nothing highlighted, never wrapped): written
    straight to a file or pipe, which is what rich writes there; through rich on a terminal."""
    stream = sys.stderr if err else sys.stdout
    if is_terminal(stream):
        (err_console if err else out_console).print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        stream.write(text + "\n")


@dataclass
class AppContext:
    config: Path | None
    log_level: str | None
    log_format: str | None
    _settings: Settings | None = None
    _store: Store | None = field(default=None, repr=False)
    _store_engine: StoreEngine | None = field(default=None, repr=False)

    def peek_settings(self) -> Settings | None:
        """The settings when the file loads, else None (the command that needs them reports why)."""
        from clinicsync.sync.config.config_loader import ConfigError
        from clinicsync.sync.config.settings import config_path, load_settings

        if self._settings is None:
            try:
                self._settings = load_settings(config_path(self.config), defer_secrets=True)
            except ConfigError:
                return None
        return self._settings

    @property
    def settings(self) -> Settings:
        """The settings; an unset ${VAR} of a peer section is an error unless the running
        command is one of LOCAL_COMMANDS."""
        from clinicsync.sync.config.config_loader import ConfigError
        from clinicsync.sync.config.settings import config_path, load_settings

        if self._settings is None:
            try:
                self._settings = load_settings(config_path(self.config), defer_secrets=True)
            except ConfigError as exc:
                fail_config(exc.render())
        if self._settings.unset_secrets and running_command() not in LOCAL_COMMANDS:
            fail_config(ConfigError(self._settings.unset_secrets, self._settings.source).render())
        return self._settings

    @property
    def store(self) -> Store:
        from clinicsync.sync.store.store import Store

        if self._store is None:
            self._store = self._open(Store.open)
        return self._store

    @property
    def store_engine(self) -> HasEngine:
        """The store's engine alone, for reads on the Core tables of sync/store/tables.py (`status`):
        opened as ``store`` is, with the same errors, without importing the model and the
        write path, so they start faster."""
        from clinicsync.sync.store.tables import StoreEngine

        if self._store is not None:
            return self._store
        if self._store_engine is None:
            self._store_engine = self._open(StoreEngine.open)
        return self._store_engine

    def _open(self, opener: Callable[[StoreSettings], Opened]) -> Opened:
        """``opener(settings.store)``; a store that cannot be opened is one line and exit 2."""
        from sqlalchemy.exc import SQLAlchemyError

        from clinicsync.sync.store.db import StoreNotReady

        settings = self.settings
        try:
            return opener(settings.store)
        except StoreNotReady as exc:
            fail_config(str(exc))
        except (SQLAlchemyError, OSError) as exc:
            fail_config(store_problem(settings.store.url, exc))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        if self._store_engine is not None:
            self._store_engine.close()


def store_problem(url: str, exc: BaseException) -> str:
    """One line naming the key, the store (password hidden) and the reason, never a traceback."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        where = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        where = "(unreadable URL)"
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    detail = reason[0][:300] if reason else type(exc).__name__
    return f"store.url: cannot open the store at {where}: {detail}"


def running_command() -> str:
    """The command being run, below the root: `appointments list`."""
    ctx = get_current_context(silent=True)
    names: list[str] = []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(names))


def app_context(ctx: typer.Context) -> AppContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, AppContext)
    return obj


def fail_config(message: str) -> NoReturn:
    """The message as it is: a settings error quotes patterns such as ``^[a-z0-9]{0,62}$``,
    which console markup would read as a style tag and swallow."""
    err_console.print(message, style="red", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(EXIT_CONFIG)

