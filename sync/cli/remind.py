"""`clinicsync remind --once`: send the reminders that are due."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from clinicsync.sync.cli.context import EXIT_CONFIG, app_context, err_console, fail_config, out_console, print_json
from clinicsync.sync.cli.when import option_when
from clinicsync.sync.reminders.dispatch import RoutingError, dispatch, outbox_routes
from clinicsync.sync.reminders.queries import reminder_counts
from clinicsync.sync.settings_watch import note_cron_run


def parse_at(value: str, clinic_zone: str) -> datetime:
    """A moment (a named day is its start); a time without an offset is read in the clinic's zone.
    A time given to the second covers that whole second: lists show due times to the second
    while the store keeps microseconds, so `remind --once --at <a due_at from reminders list>`
    must send that reminder (it did not, when it was due "now" at 12:00:00.4)."""
    instant = option_when("--at", value, clinic_zone).instant
    return instant.replace(microsecond=999_999) if instant.microsecond == 0 else instant


def remind_command(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="send what is due, then exit")] = False,
    at: Annotated[str | None, typer.Option(
        "--at", help="act as if it were this time: ISO 8601, or e.g. 'tomorrow 13:00', '+2h' (clinic time)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="render and count, send nothing, change nothing")]
    = False,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    resend_unknown: Annotated[bool, typer.Option(
        "--resend-unknown", help="send again the reminders whose fate is unknown (may reach a patient twice)")]
    = False,
) -> None:
    """Send the reminders that are due (now, or --at a given time)."""
    if not once:
        err_console.print("use `clinicsync remind --once` (a long-running service is `clinicsync run`)")
        raise typer.Exit(EXIT_CONFIG)
    context = app_context(ctx)
    settings, store = context.settings, context.store
    moment = parse_at(at, settings.clinic.timezone) if at else datetime.now(UTC)
    if not dry_run:  # what a cron job runs, beside the service's (settings_differ)
        note_cron_run(store.engine, settings, "remind --once")
    try:
        report = dispatch(settings, store, moment, dry_run=dry_run, resend_unknown=resend_unknown)
    except RoutingError as exc:
        fail_config(str(exc))
    if json_output:
        print_json(report.as_report())
    else:
        counts = report.as_report()
        verb = "would send" if dry_run else "sent"
        out_console.print(f"{verb} {counts['sent']}, failed {counts['failed']}, skipped {counts['skipped']}, "
                          f"unknown {counts['unknown']}; back to pending: retrying {counts['retrying']}, "
                          f"deferred by quiet hours {counts['deferred']}")
    outbox = outbox_routes(settings)
    if outbox:
        where = ", ".join(sorted(set(outbox.values())))
        why = " (the settings name no notifiers: the default)" if settings.notifiers_defaulted else ""
        err_console.print(f"[yellow]{', '.join(sorted(outbox))} go to the dry-run outbox{why}: messages are written "
                          f"as files under {where}, none reached a patient. Add a notifier for them "
                          "(docs/notifiers.md).[/yellow]")
    unknown = reminder_counts(store)["unknown"]
    if unknown:
        err_console.print(f"[yellow]{unknown} reminder(s) in state unknown: a send was interrupted. See "
                          "`clinicsync reminders list --status unknown`; `remind --once --resend-unknown` "
                          "sends them again.[/yellow]")
