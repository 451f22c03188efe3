"""`clinicsync reminders …`"""

from __future__ import annotations

from typing import Annotated

import typer

from clinicsync.notifiers.base import CHANNELS
from clinicsync.sync.cli.context import EXIT_CONFIG, app_context, err_console, out_console
from clinicsync.sync.cli.output import (
    DEFAULT_LIMIT,
    AllOption,
    Column,
    FormatOption,
    LimitOption,
    UtcOption,
    emit_list,
    moment,
    resolve_format,
)
from clinicsync.sync.model.reminders import STATUSES
from clinicsync.sync.reminders.dispatch import opt_in
from clinicsync.sync.reminders.queries import list_reminders, reminder_counts

app = typer.Typer(help="Planned and sent reminders.", no_args_is_help=True)


@app.command("list")
def list_command(
    ctx: typer.Context,
    fmt: FormatOption = None,
    utc: UtcOption = False,
    json_output: Annotated[bool, typer.Option("--json", hidden=True, help="same as --format json")] = False,
    status: Annotated[str | None, typer.Option("--status", help=f"one of {', '.join(STATUSES)}")] = None,
    limit: LimitOption = DEFAULT_LIMIT,
    every: AllOption = False,
) -> None:
    """List reminders, soonest due first, at most 200 unless --limit or --all (the total is
    always said). Due times in the clinic's zone for people (--utc for UTC); CSV and JSON
    keep ISO 8601 UTC."""
    if status is not None and status not in STATUSES:
        err_console.print(f"--status: unknown status {status!r} (one of {', '.join(STATUSES)})")
        raise typer.Exit(EXIT_CONFIG)
    context = app_context(ctx)
    page_size = None if every else limit
    rows = list_reminders(context.store, status, limit=page_size)  # type: ignore[arg-type]
    if page_size is None or len(rows) < page_size:
        total = len(rows)
    else:  # one GROUP BY status, never the rows
        counts = reminder_counts(context.store)
        total = counts.get(status, 0) if status else sum(counts.values())
    zone_name, locale = context.settings.clinic.timezone, context.settings.clinic.locale_tag()
    columns = [
        Column("due (UTC)" if utc else "due", lambda r: moment(r["due_at"], zone_name, utc, locale=locale),
               lambda r: r["due_at"], "due (UTC)"),
        Column("kind", lambda r: r["kind"]), Column("offset", lambda r: r["offset"] or ""),
        Column("recipient", lambda r: r["recipient"]), Column("channel", lambda r: r["channel"] or ""),
        Column("status", lambda r: r["status"]), Column("reason", lambda r: r["reason"] or r["note"] or ""),
        Column("appointment", lambda r: r["appointment"] or ""),
    ]
    emit_list(out_console, err_console, resolve_format(fmt, out_console, json_output), columns, rows, total,
              noun="reminders", limit=page_size, title="reminders", empty="no reminders")


@app.command("opt-in")
def opt_in_command(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="the phone number (E.164) or email address")],
    channel: Annotated[str, typer.Option("--channel", help="sms, whatsapp or email")],
) -> None:
    """Lift an opt-out: messages may go to this address on this channel again."""
    if channel not in CHANNELS:
        err_console.print(f"--channel: unknown channel {channel!r} (one of {', '.join(CHANNELS)})")
        raise typer.Exit(EXIT_CONFIG)
    found = opt_in(app_context(ctx).store, channel, address)
    out_console.print("opt-out lifted" if found else "that address had not opted out on this channel")
