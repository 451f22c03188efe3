"""Issue 31, obs 2: every argument error is one line on stderr and exit 2, never a traceback
and never typer's five-line box. The sweep walks the command tree itself, so a command
added later is swept too: an unknown option everywhere; for each option or argument that
takes a number, a word; for each choice, a value that is none; for each option that takes a
day or a moment, a typo. And `--help` piped is whole: every option of every command appears
in it, nothing cut with `…`."""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main

from clinicsync.sync.cli import app
from clinicsync.sync.cli.lazy import loaded
from tests.cli.conftest import Run

DAY_OPTIONS = {"--from", "--to", "--at", "--date"}  # read by sync/cli/when.py
NEEDS = {("remind",): ["--once"]}  # flags without which the command stops before reading its options


def leaves(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for name, sub in subcommands.items():
            yield from leaves(loaded(sub), (*path, name))  # a lazy command: its module imported
    else:
        yield path, command


def annotation(param: Any) -> Any:
    """The parameter's Python type, with `| None` and `list[...]` taken off."""
    found = param.type_descriptor.annotation
    if typing.get_origin(found) in (typing.Union, types.UnionType):
        found = next(a for a in typing.get_args(found) if a is not type(None))
    if typing.get_origin(found) is list:
        found = typing.get_args(found)[0]
    return found


def placeholders(command: Any) -> list[str]:
    """A valid value for each positional argument, so only the value under test is wrong."""
    return ["1" if annotation(p) is int else "x" for p in command.params if p.param_type_name == "argument"]


def cases() -> Iterator[Any]:
    root = typer.main.get_command(app)
    for path, command in leaves(root):
        name = " ".join(path)
        needs = NEEDS.get(path, [])
        yield pytest.param([*path, "--no-such-option"], "--no-such-option", id=f"{name} unknown option")
        for param in command.params:
            if param.hidden or param.name == "help":
                continue
            kind = annotation(param)
            flag = param.opts[0]
            if param.param_type_name == "argument":
                if kind is int:
                    yield pytest.param([*path, "abc"], param.name, id=f"{name} {param.name}=abc")
                continue
            if getattr(param, "is_flag", False):
                continue
            rest = [*needs, *placeholders(command)]
            if kind in (int, float):
                yield pytest.param([*path, flag, "abc", *rest], flag, id=f"{name} {flag}=abc")
            if isinstance(kind, type) and issubclass(kind, enum.Enum):
                yield pytest.param([*path, flag, "bogus", *rest], flag, id=f"{name} {flag}=bogus")
            if flag in DAY_OPTIONS:
                yield pytest.param([*path, flag, "yesterdayy", *rest], flag, id=f"{name} {flag}=yesterdayy")


def test_the_sweep_reaches_every_kind_of_bad_argument() -> None:
    ids = [case.id for case in cases()]
    assert len([i for i in ids if i.endswith("unknown option")]) >= 25
    for expected in ("appointments list --limit=abc", "appointments list --format=bogus",
                     "appointments list --from=yesterdayy", "remind --at=yesterdayy", "check --max-records=abc",
                     "serve --port=abc", "quarantine resolve item=abc"):
        assert expected in ids


@pytest.mark.parametrize(("args", "named"), list(cases()))
def test_a_bad_argument_is_one_line_and_exit_2(run: Run, args: list[str], named: str) -> None:
    code, out, err = run(*args, expect=None)
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert named in lines[0] or named.upper() in lines[0], lines[0]
    assert "Traceback" not in out + err and "╭" not in err


@pytest.mark.parametrize("path", [path for path, _ in leaves(typer.main.get_command(app))],
                         ids=" ".join)
def test_help_piped_is_whole(run: Run, path: tuple[str, ...]) -> None:
    command = dict(leaves(typer.main.get_command(app)))[path]
    _, text, _ = run(*path, "--help")
    assert "╭" not in text and not [line for line in text.splitlines() if line.endswith(("…", "..."))]  # cut
    for param in command.params:
        if param.param_type_name == "option" and not param.hidden:
            for name in (*param.opts, *param.secondary_opts):
                assert name in text, (path, name)
    assert " ".join(text.split()).count((command.help or "").split("\n\n")[0].split()[0]) >= 1
