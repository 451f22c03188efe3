"""`clinicsync reminders …`"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clinicsync.common.vocabulary import ReminderStatus
from clinicsync.notifiers.base import CHANNELS
from clinicsync.sync.cli.context import EXIT_CONFIG, app_context, err_console, out_console
from clinicsync.sync.cli.output import (
    DEFAULT_LIMIT,
    Column,
    Format,
    FormatOption,
    LimitOption,
    UtcOption,
    WideOption,
    emit_list,
    moment,
    resolve_format,
    times_note,
)
from clinicsync.sync.cli.sites import SiteOption, of_site, site_sources
from clinicsync.sync.cli.when import option_when, parse_when
from clinicsync.sync.reminders.dispatch import opt_in
from clinicsync.sync.reminders.queries import count_reminders, list_reminders
from clinicsync.sync.store.model.reminders import STATUSES

if TYPE_CHECKING:
    from clinicsync.sync.store.store import Store

app = typer.Typer(help="Planned and sent reminders.", no_args_is_help=True)


DEFAULT_BACK_DAYS, DEFAULT_AHEAD_DAYS = 7, 7  # the default window: the last week and the next
TO_DO = (ReminderStatus.UNKNOWN, ReminderStatus.FAILED)  # lists to act on: every one by default, whatever its due day


@app.command("list")
def list_command(
    ctx: typer.Context,
    fmt: FormatOption = None,
    output: WideOption = None,
    utc: UtcOption = False,
    json_output: Annotated[bool, typer.Option("--json", hidden=True, help="same as --format json")] = False,
    status: Annotated[str | None, typer.Option("--status", help=f"one of {', '.join(STATUSES)}")] = None,
    from_: Annotated[str | None, typer.Option(
        "--from", help="first day or moment due, clinic time: 2026-11-24, today, -2d, mon, an ISO time (default: "
        f"{DEFAULT_BACK_DAYS} days ago, for {DEFAULT_BACK_DAYS + DEFAULT_AHEAD_DAYS} days; with --status "
        f"{' or '.join(TO_DO)}: every one)")] = None,
    to: Annotated[str | None, typer.Option(
        "--to", help="last day due, inclusive (or a moment), in the same forms as --from")] = None,
    limit: LimitOption = DEFAULT_LIMIT,
    every: Annotated[bool, typer.Option("--all", help="every reminder: no default window, no --limit")] = False,
    site: SiteOption = None,
) -> None:
    """List reminders, soonest due first: by default those due from 7 days ago to 7 days
    ahead (a store keeps every reminder it ever planned), at most 200 unless --limit or
    --all (the total is always said). Due times in the clinic's zone for people (--utc for
    UTC); CSV and JSON keep ISO 8601 UTC."""
    if status is not None and status not in STATUSES:
        err_console.print(f"--status: unknown status {status!r} (one of {', '.join(STATUSES)})")
        raise typer.Exit(EXIT_CONFIG)
    context = app_context(ctx)
    sources = site_sources(context.settings, site)
    zone_name = context.settings.clinic.timezone
    start = option_when("--from", from_, zone_name).instant if from_ is not None else None
    end = option_when("--to", to, zone_name).day_end(zone_name) if to is not None else None
    if from_ is None and to is None and not every and status not in TO_DO:
        start = parse_when(f"-{DEFAULT_BACK_DAYS}d", zone_name).instant
        end = parse_when(f"+{DEFAULT_AHEAD_DAYS}d", zone_name).day_end(zone_name)
    page_size = None if every else limit
    shown_as = resolve_format(fmt, out_console, json_output)
    title = "reminders"
    if sources is not None:  # one site's: its visits' reminders of the window, read whole, then the page
        rows = [r for r in list_reminders(context.store, status, limit=None, start=start, end=end)
                if of_site(sources, r["appointment"])]
        total, rows = len(rows), rows if page_size is None else rows[:page_size]
    elif status is None and from_ is None and to is None and not every and shown_as in (Format.table, Format.plain):
        # For people, what needs a person or goes next comes first, not last week's skips
        rows, total = _urgent_first(context.store, page_size, start, end)
        title = "reminders: failing and unknown first, then pending (soonest due), then the rest"
    else:
        rows = list_reminders(context.store, status, limit=page_size, start=start, end=end)
        if page_size is None or len(rows) < page_size:
            total = len(rows)
        else:  # counted through the (status, due_at) index, never the rows
            total = count_reminders(context.store, status, start, end)
    locale = context.settings.clinic.locale_tag()
    columns = [
        Column("due (UTC)" if utc else "due", lambda r: moment(r["due_at"], zone_name, utc, locale=locale),
               lambda r: r["due_at"], "due (UTC)", keep=True),
        Column("kind", lambda r: r["kind"]), Column("offset", lambda r: r["offset"] or ""),
        Column("recipient", lambda r: r["recipient"], wide=True), Column("channel", lambda r: r["channel"] or ""),
        Column("status", lambda r: r["status"]), Column("reason", lambda r: r["reason"] or r["note"] or ""),
        Column("appointment", lambda r: r["appointment"] or "", keep=True),
    ]
    emit_list(out_console, err_console, shown_as, columns, rows, total,
              output=output,
              noun="reminders", limit=page_size, title=title, empty="no reminders",
              times=times_note(zone_name, utc))


def _urgent_first(store: Store, limit: int | None, start: datetime | None, end: datetime | None
                  ) -> tuple[list[dict[str, Any]], int]:
    """The default list for people, in the order a person acts on it: every unknown and failed
    reminder (whenever due), then the pending ones of the window, soonest due first (overdue
    included), then the window's others (sending, sent, delivered, skipped, cancelled)."""
    groups: list[tuple[tuple[str, ...], bool]] = [
        (TO_DO, False), ((ReminderStatus.PENDING, ReminderStatus.SENDING), True),
        (tuple(s for s in STATUSES if s not in (*TO_DO, ReminderStatus.PENDING, ReminderStatus.SENDING)), True)]
    rows: list[dict[str, Any]] = []
    total = 0
    for statuses, windowed in groups:
        for status in statuses:
            first, last = (start, end) if windowed else (None, None)
            room = None if limit is None else max(limit - len(rows), 0)
            if room != 0:
                rows += list_reminders(store, status, limit=room, start=first, end=last)
            total += count_reminders(store, status, first, last)
    return rows, total


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
