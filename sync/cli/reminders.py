"""`clinicsync reminders …`"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from clinicsync.notifiers.base import CHANNELS
from clinicsync.sync.cli.context import EXIT_CONFIG, app_context, err_console, out_console
from clinicsync.sync.cli.output import Format, FormatOption, UtcOption, emit, moment
from clinicsync.sync.model.reminders import STATUSES
from clinicsync.sync.reminders.dispatch import opt_in
from clinicsync.sync.reminders.queries import list_reminders

app = typer.Typer(help="Planned and sent reminders.", no_args_is_help=True)


@app.command("list")
def list_command(
    ctx: typer.Context,
    fmt: FormatOption = Format.table,
    utc: UtcOption = False,
    json_output: Annotated[bool, typer.Option("--json", hidden=True, help="same as --format json")] = False,
    status: Annotated[str | None, typer.Option("--status", help=f"one of {', '.join(STATUSES)}")] = None,
) -> None:
    """List reminders: due times in the clinic's zone with the offset (--utc for UTC); JSON keeps UTC `Z`."""
    if status is not None and status not in STATUSES:
        err_console.print(f"--status: unknown status {status!r} (one of {', '.join(STATUSES)})")
        raise typer.Exit(EXIT_CONFIG)
    context = app_context(ctx)
    rows = list_reminders(context.store, status)
    zone_name = context.settings.clinic.timezone
    emit(out_console, Format.json if json_output else fmt,
         ["due (UTC)" if utc else f"due ({zone_name})", "kind", "offset", "recipient", "channel", "status", "reason",
          "appointment"],
         [(moment(row["due_at"], ZoneInfo(zone_name), utc), row["kind"], row["offset"] or "", row["recipient"],
           row["channel"] or "", row["status"], row["reason"] or row["note"] or "", row["appointment"] or "")
          for row in rows], records=rows)


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
