"""`clinicsync quarantine …`"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from sync.cli.context import app_context, out_console, print_json
from sync.queries import list_quarantine

app = typer.Typer(help="Records that could not be imported, and why.", no_args_is_help=True)


@app.command("list")
def list_command(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json")] = False,
    connector: Annotated[str | None, typer.Option(help="only this connector")] = None,
) -> None:
    """List quarantined records with position, field and reason (no patient data)."""
    rows = list_quarantine(app_context(ctx).store, connector)
    if json_output:
        print_json(rows)
        return
    table = Table("connector", "position", "record", "field", "reason")
    for row in rows:
        table.add_row(row["connector"], row["position"], row["record_id"] or "", row["field"] or "", row["reason"])
    out_console.print(table)
