"""`clinicsync remind --once`: send the reminders that are due."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from clinicsync.common.types import utcnow
from clinicsync.sync.cli.context import (
    EXIT_CONFIG,
    app_context,
    err_console,
    fail_config,
    out_console,
    print_json,
)
from clinicsync.sync.cli.when import day_at, option_when
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.dispatch import DispatchReport, RoutingError, dispatch, outbox_routes
from clinicsync.sync.reminders.queries import reminder_counts
from clinicsync.sync.runs.settings_watch import note_cron_run

if TYPE_CHECKING:
    from clinicsync.sync.store.store import Store

MORNING = time(8, 0)  # the clinic's morning when quiet hours are off: the default quiet hours' end
AHEAD = timedelta(minutes=5)  # an --at further ahead than this is a rehearsal of a later moment
TOO_LATE = "too late"
_SECONDS = re.compile(r"\d:\d\d:\d\d(?![.,]\d)")  # a clock written to the second, without a fraction


def clinic_morning(settings: Settings) -> time:
    """When a named day's messages start to go: the end of the quiet hours (held confirmations
    and the morning's reminders are due then, docs/reminders.md), else 08:00."""
    quiet = settings.reminders.quiet_hours
    return quiet.end if quiet is not None and quiet.start != quiet.end else MORNING


def parse_at(value: str, clinic_zone: str, morning: time = MORNING) -> datetime:
    """A moment; a day alone (`tomorrow`, `2026-11-28`, `+1d`) is the clinic's morning of that
    day, not its midnight: at midnight today's reminders are hours early and the evening's
    notices a day late, so `--at tomorrow` skipped them all as too late. A time without an
    offset is read in the clinic's zone.
    A time given to the second covers that whole second: lists show due times to the second
    while the store keeps microseconds, so `remind --once --at <a due_at from reminders list>`
    must send that reminder (it did not, when it was due "now" at 12:00:00.4)."""
    named = option_when("--at", value, clinic_zone)
    if named.day is not None:
        return day_at(named.day, morning, clinic_zone)
    # Only a time written to the second is padded: `tomorrow 08:00` is that minute's start, the
    # very moment a confirmation held by the quiet hours a day before is at its latest (a notice's
    # max_lateness is 1d; padded, the README's demo run after midnight skipped them all).
    instant = named.instant
    if instant.microsecond == 0 and _SECONDS.search(value):
        return instant.replace(microsecond=999_999)
    return instant


def summary(counts: dict[str, int], reasons: dict[str, int], dry_run: bool) -> str:
    """One line: what went, and why what was skipped was (most frequent reason first)."""
    verb = "would send" if dry_run else "sent"
    why = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items(), key=lambda item: (-item[1], item[0])))
    skipped = f"skipped {counts['skipped']}" + (f" ({why})" if why and counts["skipped"] else "")
    return (f"{verb} {counts['sent']}, failed {counts['failed']}, {skipped}, unknown {counts['unknown']}; "
            f"back to pending: retrying {counts['retrying']}, deferred by quiet hours {counts['deferred']}")


def _ahead(moment: datetime, now: datetime) -> str:
    hours = (moment - now).total_seconds() / 3600
    return f"{hours:.0f} h" if hours >= 1.5 else f"{hours * 60:.0f} min"


def too_late_warning(count: int, at: str, moment: datetime, now: datetime, dry_run: bool) -> str:
    """What a future --at that skipped messages as too late says: the count, the reason, the way
    to rehearse without it. Skipped is final, so the line is said, not left to the counts."""
    verb = "would be" if dry_run else "were"
    return (f"--at {at!r} is {_ahead(moment, now)} ahead of now: {count} message(s) due well before it {verb} "
            "skipped as too late, for good (past their allowed lateness at that moment: docs/reminders.md, "
            "*A dispatcher that was down*). To rehearse a later moment without losing them, run with "
            "--dry-run first, or step through with earlier --at times.")


def remind_command(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="send what is due, then exit")] = False,
    at: Annotated[str | None, typer.Option(
        "--at", help="act as if it were this time (clinic time): 'tomorrow 08:00', '+2h', an ISO time; "
                     "a day alone is its morning (when quiet hours end)")] = None,
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
    zone_name = settings.clinic.timezone
    now = utcnow()
    moment = parse_at(at, zone_name, clinic_morning(settings)) if at else now
    if at and not json_output:
        from clinicsync.sync.cli.output import moment as shown

        err_console.print(f"acting as at {shown(moment, zone_name, utc=False)} ({zone_name})", highlight=False)
    if not dry_run:  # what a cron job runs, beside the service's (settings_differ)
        note_cron_run(store.engine, settings, "remind --once")
    report = _dispatch(settings, store, moment, dry_run=dry_run, resend_unknown=resend_unknown)
    if json_output:
        print_json(report.as_report())
    else:
        out_console.print(summary(report.as_report(), report.skip_reasons, dry_run), highlight=False)
    if at and moment - now > AHEAD and report.skip_reasons.get(TOO_LATE):
        err_console.print(too_late_warning(report.skip_reasons[TOO_LATE], at, moment, now, dry_run),
                          style="yellow", markup=False, highlight=False)
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


def _dispatch(settings: Settings, store: Store, moment: datetime, *, dry_run: bool,
              resend_unknown: bool = False) -> DispatchReport:
    try:
        return dispatch(settings, store, moment, dry_run=dry_run, resend_unknown=resend_unknown)
    except RoutingError as exc:
        fail_config(str(exc))
