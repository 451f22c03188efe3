"""cli/coercion.py: an option left out builds no pydantic adapter; a given one is converted and
refused as typer does it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.testing import CliRunner

import clinicsync.sync.cli  # noqa: F401  (installs the deferred coercion, as the command does)
from clinicsync.sync.cli.coercion import _OnFirstValue


def _app(seen: list[object]) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def one(limit: Annotated[int | None, typer.Option()] = None,
            where: Annotated[Path | None, typer.Option()] = None,
            name: Annotated[list[str] | None, typer.Option()] = None) -> None:
        seen.extend([limit, where, name])

    return app


def test_options_left_out_are_none_without_an_adapter() -> None:
    seen: list[object] = []
    command = typer.main.get_command(_app(seen))
    command.main([], standalone_mode=False)
    assert seen == [None, None, None]
    assert all(isinstance(param._runtime_param, _OnFirstValue) for param in command.params)  # type: ignore[attr-defined]


def test_given_options_are_converted_and_refused_by_typers_own_adapter() -> None:
    seen: list[object] = []
    app = _app(seen)
    done = CliRunner().invoke(app, ["--limit", "3", "--where", "a/b", "--name", "x", "--name", "y"])
    assert done.exit_code == 0, done.output
    assert seen == [3, Path("a/b"), ["x", "y"]]
    refused = CliRunner().invoke(app, ["--limit", "three"])
    assert refused.exit_code == 2
    assert "Input should be a valid integer" in refused.output
