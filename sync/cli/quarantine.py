"""`clinicsync quarantine …`: the work list of records that could not be imported."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from clinicsync.sync.cli.context import EXIT_CONFIG, EXIT_FAILED, app_context, err_console, out_console, print_json
from clinicsync.sync.queries import list_quarantine
from clinicsync.sync.reprocess import IMPORTED, dismiss, retry

app = typer.Typer(help="Records that could not be imported: list, retry after a mapping fix, dismiss.",
                  no_args_is_help=True)


@app.command("list")
def list_command(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json")] = False,
    connector: Annotated[str | None, typer.Option(help="only this connector")] = None,
    everything: Annotated[bool, typer.Option("--all", help="also resolved and dismissed items (history)")] = False,
) -> None:
    """Open items with record, field, reason and how often they were seen (no patient data)."""
    rows = list_quarantine(app_context(ctx).store, connector, everything=everything)
    if json_output:
        print_json(rows)
        return
    table = Table("id", "connector", "record", "field", "reason", "seen", "last seen", "position",
                  *(["status"] if everything else []))
    for row in rows:
        status = [f"{row['status']}" + (f" ({row['resolution']})" if row["resolution"] else "")] if everything else []
        table.add_row(str(row["id"]), row["connector"], row["record_id"] or "", row["field"] or "", row["reason"],
                      str(row["count"]), row["last_seen"], row["position"], *status)
    out_console.print(table)
    if not rows:
        out_console.print("nothing open in quarantine" if not everything else "the quarantine is empty")


@app.command("retry")
def retry_command(
    ctx: typer.Context,
    item: Annotated[int | None, typer.Argument(help="the item's id (from `quarantine list`)")] = None,
    every: Annotated[bool, typer.Option("--all", help="every open item")] = False,
    connector: Annotated[str | None, typer.Option(help="with --all: only this connector's items")] = None,
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run stored raw input through the current mapping (after fixing it) and import what maps."""
    if (item is None) == (not every):
        err_console.print("give an item id or --all")
        raise typer.Exit(EXIT_CONFIG)
    context = app_context(ctx)
    outcomes = retry(context.settings, context.store, None if every else [item], connector)  # type: ignore[list-item]
    if json_output:
        print_json([o.as_dict() for o in outcomes])
    else:
        table = Table("id", "connector", "result", "detail")
        for o in outcomes:
            table.add_row(str(o.id), o.connector, o.result, o.detail or "")
        out_console.print(table)
        imported = sum(1 for o in outcomes if o.result == IMPORTED)
        out_console.print(f"{imported} of {len(outcomes)} imported")
    if item is not None and not outcomes:
        err_console.print(f"no open quarantine item {item}")
        raise typer.Exit(EXIT_FAILED)
    if any(o.result != IMPORTED for o in outcomes):
        raise typer.Exit(EXIT_FAILED)


@app.command("resolve")
def resolve_command(ctx: typer.Context,
                    item: Annotated[int, typer.Argument(help="the item's id (from `quarantine list`)")]) -> None:
    """Dismiss an open item (it will never import, or was dealt with another way)."""
    if not dismiss(app_context(ctx).store, item):
        err_console.print(f"no open quarantine item {item}")
        raise typer.Exit(EXIT_FAILED)
    out_console.print(f"item {item} dismissed")
