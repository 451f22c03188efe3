"""`clinicsync set-aside …`: items a post-sync stage could not handle and went on without
(sync.setaside): list them, and retry them after the fix."""

from __future__ import annotations

from typing import Annotated

import typer

from clinicsync.common.timeutil import iso_z
from clinicsync.sync.cli.context import app_context, err_console, out_console
from clinicsync.sync.cli.output import (
    DEFAULT_LIMIT,
    AllOption,
    Column,
    FormatOption,
    LimitOption,
    UtcOption,
    WideOption,
    emit_list,
    moment,
    resolve_format,
    times_note,
)
from clinicsync.sync.cli.sites import SiteOption, site_sources
from clinicsync.sync.runs.setaside import STAGES, open_counts, open_items, request_retry

app = typer.Typer(help="Items a stage set aside (planning, calendar, dispatch, agenda, write-back): list, retry.",
                  no_args_is_help=True)


@app.command("list")
def list_command(
    ctx: typer.Context,
    fmt: FormatOption = None,
    output: WideOption = None,
    json_output: Annotated[bool, typer.Option("--json", hidden=True, help="same as --format json")] = False,
    limit: LimitOption = DEFAULT_LIMIT,
    every: AllOption = False,
    utc: UtcOption = False,
    site: SiteOption = None,
) -> None:
    """Open items, newest first, at most 200 unless --limit or --all (the total is always
    said): stage, appointment (connector:id), reason, attempts (no patient data)."""
    context = app_context(ctx)
    sources = site_sources(context.settings, site)
    page_size = None if every else limit
    with context.store.engine.connect() as connection:
        rows = open_items(connection, limit=page_size, connectors=sources)
        if page_size is None or len(rows) < page_size:
            total = len(rows)
        elif sources is None:
            total = sum(open_counts(connection).values())
        else:  # one site's: counted by reading its items (a site's open items are few)
            total = len(open_items(connection, limit=None, connectors=sources))
    zone_name, locale = context.settings.clinic.timezone, context.settings.clinic.locale_tag()
    columns = [
        Column("id", lambda r: r["id"], keep=True), Column("stage", lambda r: r["stage"]),
        Column("item", lambda r: r["item"]),
        Column("appointment", lambda r: r["appointment"] or ""), Column("reason", lambda r: r["reason"]),
        Column("attempts", lambda r: r["attempts"]),
        Column("last seen (UTC)" if utc else "last seen", lambda r: moment(r["last_at"], zone_name, utc,
                                                                           locale=locale),
               lambda r: iso_z(r["last_at"]), "last seen (UTC)"),
        Column("status", lambda r: r["status"]),
    ]
    emit_list(out_console, err_console, resolve_format(fmt, out_console, json_output), columns, rows, total,
              output=output,
              noun="set-aside items", limit=page_size, title="set aside", empty="nothing set aside",
              times=times_note(zone_name, utc),
              json_rows=[{**r, "first_at": iso_z(r["first_at"]), "last_at": iso_z(r["last_at"])} for r in rows])


@app.command("retry")
def retry_command(
    ctx: typer.Context,
    stage: Annotated[str | None, typer.Option(help=f"only this stage ({', '.join(STAGES)})")] = None,
    ids: Annotated[list[int] | None, typer.Option("--id", help="only these items (repeat)")] = None,
) -> None:
    """Mark open items for their stage's next run (after fixing what made them fail)."""
    count = request_retry(app_context(ctx).store.engine, stage, ids)
    out_console.print(f"{count} item(s) will be retried at their stage's next run")
