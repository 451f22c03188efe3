"""`clinicsync ui …`: helpers for the status page at /ui."""

from __future__ import annotations

from typing import Annotated

import typer

from clinicsync.common.passwords import hash_password

app = typer.Typer(help="The status page at /ui.", no_args_is_help=True)


@app.command("hash-password")
def hash_password_command(
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                          help="prompted for when not given (keeps it out of shell history)")],
) -> None:
    """Print an argon2id hash to put under `ui: users: - {name: …, password_hash: …}`."""
    typer.echo(hash_password(password))
