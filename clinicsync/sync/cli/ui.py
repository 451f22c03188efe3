"""`clinicsync ui …`: helpers for the status page at /ui."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from clinicsync.sync.cli.context import fail_config

app = typer.Typer(help="The status page at /ui.", no_args_is_help=True)


def _password_from_stdin() -> str:
    """One line from a pipe or a file, read once: `printf '%s\\n' "$PW" | clinicsync ui hash-password`.
    Nothing to read is one line and exit 2, never a prompt waiting on a stream that has ended."""
    line = sys.stdin.readline()
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        fail_config("ui hash-password: no password on standard input (give one line, or run it in a terminal)")
    return password


@app.command("hash-password")
def hash_password_command(
    password: Annotated[str | None, typer.Option(
        help="prompted for on a terminal (keeps it out of shell history); when piped, the first line of stdin")]
    = None,
) -> None:
    """Print an argon2id hash to put under `ui: users: - {name: …, password_hash: …}`."""
    from clinicsync.common.passwords import hash_password

    if password is None:
        if sys.stdin.isatty():
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password = _password_from_stdin()
    typer.echo(hash_password(password))
