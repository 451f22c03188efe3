"""`clinicsync set-aside …`: items a post-sync stage could not handle and went on without
(sync.setaside): list them, and retry them after the fix."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from clinicsync.common.timeutil import iso_z
from clinicsync.sync.cli.context import app_context, out_console, print_json
from clinicsync.sync.setaside import STAGES, open_items, request_retry

app = typer.Typer(help="Items a stage set aside (planning, calendar, dispatch, agenda, write-back): list, retry.",
                  no_args_is_help=True)


@app.command("list")
def list_command(ctx: typer.Context, json_output: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Open items: stage, appointment (connector:id), reason, attempts (no patient data)."""
    with app_context(ctx).store.engine.connect() as connection:
        rows = open_items(connection, limit=1000)
    if json_output:
        print_json([{**r, "first_at": iso_z(r["first_at"]), "last_at": iso_z(r["last_at"])} for r in rows])
        return
    table = Table("id", "stage", "item", "appointment", "reason", "attempts", "last seen", "status")
    for r in rows:
        table.add_row(str(r["id"]), r["stage"], r["item"], r["appointment"] or "", r["reason"], str(r["attempts"]),
                      iso_z(r["last_at"]), r["status"])
    out_console.print(table)
    if not rows:
        out_console.print("nothing set aside")


@app.command("retry")
def retry_command(
    ctx: typer.Context,
    stage: Annotated[str | None, typer.Option(help=f"only this stage ({', '.join(STAGES)})")] = None,
    ids: Annotated[list[int] | None, typer.Option("--id", help="only these items (repeat)")] = None,
) -> None:
    """Mark open items for their stage's next run (after fixing what made them fail)."""
    count = request_retry(app_context(ctx).store.engine, stage, ids)
    out_console.print(f"{count} item(s) will be retried at their stage's next run")
