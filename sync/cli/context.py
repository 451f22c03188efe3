"""What every command shares: the loaded settings, the open store, and output helpers.

Settings and the store are imported when a command first asks for them, not here: every
command imports this module, and `--help` must not pay for pydantic models and SQLAlchemy."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

from clinicsync.sync.cli.output import FullWidthWhenPiped, print_json  # noqa: F401 - re-exported for the commands

if TYPE_CHECKING:
    from clinicsync.sync.settings import Settings
    from clinicsync.sync.store import Store

EXIT_FAILED = 1
EXIT_CONFIG = 2
err_console: Console = FullWidthWhenPiped(stderr=True)
out_console: Console = FullWidthWhenPiped()


@dataclass
class AppContext:
    config: Path | None
    log_level: str | None
    log_format: str | None
    _settings: Settings | None = None
    _store: Store | None = field(default=None, repr=False)

    def peek_settings(self) -> Settings | None:
        """The settings when the file loads, else None (the command that needs them reports why)."""
        from clinicsync.sync.config_loader import ConfigError
        from clinicsync.sync.settings import config_path, load_settings

        if self._settings is None:
            try:
                self._settings = load_settings(config_path(self.config))
            except ConfigError:
                return None
        return self._settings

    @property
    def settings(self) -> Settings:
        from clinicsync.sync.config_loader import ConfigError
        from clinicsync.sync.settings import config_path, load_settings

        if self._settings is None:
            try:
                self._settings = load_settings(config_path(self.config))
            except ConfigError as exc:
                fail_config(exc.render())
        return self._settings

    @property
    def store(self) -> Store:
        from sqlalchemy.exc import SQLAlchemyError

        from clinicsync.sync.db import StoreNotReady
        from clinicsync.sync.store import Store

        if self._store is None:
            settings = self.settings
            try:
                self._store = Store.open(settings.store)
            except StoreNotReady as exc:
                fail_config(str(exc))
            except (SQLAlchemyError, OSError) as exc:
                fail_config(store_problem(settings.store.url, exc))
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


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


def app_context(ctx: typer.Context) -> AppContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, AppContext)
    return obj


def fail_config(message: str) -> NoReturn:
    """The message as it is: a settings error quotes patterns such as ``^[a-z0-9]{0,62}$``,
    which console markup would read as a style tag and swallow."""
    err_console.print(message, style="red", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(EXIT_CONFIG)

