"""`clinicsync quarantine …`: the work list of records that could not be imported."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from clinicsync.sync.checks.queries import count_quarantine, list_quarantine
from clinicsync.sync.cli.context import EXIT_CONFIG, EXIT_FAILED, app_context, err_console, out_console, print_json
from clinicsync.sync.cli.output import (
    DEFAULT_LIMIT,
    AllOption,
    Column,
    Format,
    FormatOption,
    LimitOption,
    Output,
    UtcOption,
    WideOption,
    emit_list,
    moment,
    print_table,
    resolve_format,
    times_note,
)
from clinicsync.sync.cli.sites import SiteOption, site_sources
from clinicsync.sync.ingest.reprocess import IMPORTED, dismiss, retry

app = typer.Typer(help="Records that could not be imported: list, retry after a mapping fix, resolve.",
                  no_args_is_help=True)


@app.command("list")
def list_command(
    ctx: typer.Context,
    fmt: FormatOption = None,
    output: WideOption = None,
    json_output: Annotated[bool, typer.Option("--json", hidden=True, help="same as --format json")] = False,
    connector: Annotated[str | None, typer.Option(help="only this connector")] = None,
    history: Annotated[bool, typer.Option(
        "--history", help="also items imported since and items resolved by hand (dismissed)")] = False,
    limit: LimitOption = DEFAULT_LIMIT,
    every: AllOption = False,
    utc: UtcOption = False,
    site: SiteOption = None,
) -> None:
    """Open items, newest sighting first, at most 200 unless --limit or --all (the total is
    always said): record, field, reason and how often they were seen (no patient data)."""
    context = app_context(ctx)
    store, clinic = context.store, context.settings.clinic
    page_size = None if every else limit
    sources = site_sources(context.settings, site)
    rows = list_quarantine(store, connector, limit=page_size, everything=history, connectors=sources)
    total = len(rows) if page_size is None or len(rows) < page_size else count_quarantine(
        store, connector, history, connectors=sources)
    zone_name, locale = clinic.timezone, clinic.locale_tag()
    columns = [
        Column("id", lambda r: r["id"], keep=True), Column("connector", lambda r: r["connector"]),
        Column("record", lambda r: r["record_id"] or ""), Column("field", lambda r: r["field"] or ""),
        Column("reason", lambda r: r["reason"]), Column("seen", lambda r: r["count"], wide=True),
        Column("last seen (UTC)" if utc else "last seen", lambda r: moment(r["last_seen"], zone_name, utc,
                                                                           locale=locale),
               lambda r: r["last_seen"], "last seen (UTC)", keep=True, wide=True),
        Column("position", lambda r: r["position"], keep=True),  # a file's row number: never cut
    ]
    if history:
        columns.append(Column("status", lambda r: r["status"] + (f" ({r['resolution']})" if r["resolution"] else "")))
    shown_as = resolve_format(fmt, out_console, json_output)
    narrow = shown_as is Format.table and output is not Output.wide  # the last sighting is a wide column
    emit_list(out_console, err_console, shown_as, columns, rows, total,
              output=output,
              noun="quarantine items", limit=page_size, title="quarantine",
              empty="the quarantine is empty" if history else "nothing open in quarantine",
              times=None if narrow else times_note(zone_name, utc))


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
        print_table(out_console, table)
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
    """Resolve an open item by hand: it will never import, or was dealt with another way
    (`quarantine list --history` shows it as dismissed)."""
    if not dismiss(app_context(ctx).store, item):
        err_console.print(f"no open quarantine item {item}")
        raise typer.Exit(EXIT_FAILED)
    out_console.print(f"item {item} resolved (dismissed: `quarantine list --history` keeps it)")
