"""`clinicsync api …`: tools for the REST API's push sources."""

from __future__ import annotations

import typer

from clinicsync.connectors.rest_api import new_key
from clinicsync.sync.cli.context import out_console

app = typer.Typer(help="REST API tools (docs/api.md).", no_args_is_help=True)


@app.command("key")
def key_command() -> None:
    """Make a new API key: give the key to the system that pushes, put its digest in settings.yaml.

    Only the digest is stored; a lost key is replaced, never recovered."""
    key, digest = new_key()
    out_console.print(f"key (give it to the sending system; shown once): {key}", soft_wrap=True)
    out_console.print(f"settings.yaml, under the rest_api connector's api_keys:\n  - {{name: <who holds it>, "
                      f"sha256: {digest}}}", soft_wrap=True, highlight=False)
