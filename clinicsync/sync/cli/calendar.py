"""`clinicsync calendar …`: push, status and reconcile of the doctors' calendars."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.table import Table

from clinicsync.sync.calendar.provider import CalendarProvider
from clinicsync.sync.calendar.push import build_provider, push, retire_others
from clinicsync.sync.calendar.reconcile import reconcile
from clinicsync.sync.calendar.status import calendar_status
from clinicsync.sync.cli.context import (
    EXIT_FAILED,
    app_context,
    err_console,
    fail_config,
    out_console,
    print_json,
)
from clinicsync.sync.cli.output import print_table
from clinicsync.sync.runs.stage_locks import CALENDAR, calendar_lock, who_holds

app = typer.Typer(help="Doctors' calendars (Google Calendar or .ics files).", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON object")]


def _provider(ctx: typer.Context) -> CalendarProvider:
    context = app_context(ctx)
    if context.settings.calendar.provider == "none":
        fail_config("calendar.provider is none: set it to google or ics in the settings")
    provider = build_provider(context.settings.calendar, context.store.engine)
    assert provider is not None
    return provider


@contextlib.contextmanager
def _stage_held(ctx: typer.Context) -> Iterator[None]:
    """The calendar lock for a command that writes the calendars, as the stage holds it; while
    a run's calendar stage holds it, the command is refused (exit 1) rather than push beside it."""
    engine = app_context(ctx).store.engine
    with calendar_lock(engine) as held:
        if held is None:
            holder = who_holds(engine, *CALENDAR)
            err_console.print("another worker is running the calendar stage right now (a `sync` or the `run` "
                              f"service{': ' + holder if holder else ''}): try again when it has finished; "
                              "`clinicsync status` says whether it hangs", style="red", highlight=False,
                              markup=False)
            raise typer.Exit(EXIT_FAILED)
        yield


@app.command("push")
def push_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Push the store's truth to the calendars now (what `sync --once` does after the connectors)."""
    context = app_context(ctx)
    with _stage_held(ctx):
        provider = _provider(ctx)
        try:
            report = push(context.settings.calendar, context.store.engine, provider).as_dict()
        finally:
            provider.close()
        report |= retire_others(context.settings.calendar, context.store.engine)
    if json_output:
        print_json(report)
    else:
        out_console.print(" ".join(f"{k}={v}" for k, v in report.items()))
    if report["failed"]:
        raise typer.Exit(EXIT_FAILED)


@app.command("status")
def status_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Per calendar: events pushed, pending, failing, marked cancelled by the patient (still
    booked in the source), still shown as before a settings edit (old settings: patched a
    bounded number per sync, the soonest first); and practitioners without a calendar."""
    context = app_context(ctx)
    result = calendar_status(context.settings.calendar, context.store.engine)
    if json_output:
        print_json(result)
        return
    table = Table("calendar", "present", "pending", "deleted", "failing", "cancelled by patient",
                  "old settings", "errors", title=f"calendar provider: {result['provider']}")
    for row in result["calendars"]:
        errors = ", ".join(f"{k}: {v}" for k, v in row["errors"].items())
        table.add_row(row["calendar"], str(row["present"]), str(row["pending"]), str(row["deleted"]),
                      str(row["failing"]), str(row["patient_cancelled"]),
                      str(row["rerender_left"]), errors)
    print_table(out_console, table)
    if result["unmapped"]:
        skipped = Table("practitioner (connector/id)", "appointments skipped", title="no calendar")
        for row in result["unmapped"]:
            skipped.add_row(row["practitioner"], str(row["appointments"]))
        print_table(out_console, skipped)
    if result["left_behind"]:
        left = Table("provider", "calendar", "events", title="left in calendars no longer kept up to date",
                     caption="removed by the next sync while the provider's settings reach them "
                             "(docs/operations.md: Changing calendar settings after go-live)")
        for row in result["left_behind"]:
            left.add_row(row["provider"], row["calendar"], str(row["events"]))
        print_table(out_console, left)


@app.command("reconcile")
def reconcile_command(
    ctx: typer.Context,
    fix: Annotated[bool, typer.Option("--fix", help="restore the store's truth in the calendars")] = False,
    json_output: JsonOption = False,
) -> None:
    """Find events deleted or moved by hand, and events without an appointment. Exit 1 if any
    remain (without --fix: if any were found)."""
    context = app_context(ctx)
    with _stage_held(ctx) if fix else contextlib.nullcontext():
        provider = _provider(ctx)
        try:
            report = reconcile(context.settings, context.store.engine, provider, fix=fix)
        finally:
            provider.close()
    if json_output:
        print_json(report.as_dict())
    else:
        table = Table("calendar", "events", "expected", title="calendars")
        for label, counts in report.calendars.items():
            table.add_row(label, str(counts["events"]), str(counts["expected"]))
        print_table(out_console, table)
        if report.findings:
            findings = Table("finding", "calendar", "appointment", "event id", "detail")
            for f in report.findings:
                findings.add_row(f.kind, f.calendar, f.appointment or "", f.event_id, f.detail)
            print_table(out_console, findings)
        else:
            out_console.print("every calendar matches the store")
        declines = report.declines
        if declines.recorded or declines.cleared:
            out_console.print(f"doctors' declines: {declines.recorded} recorded, {declines.cleared} withdrawn, "
                              f"{declines.notified} sent to the front desk (see the status page)")
        if report.fixed is not None:
            out_console.print("fixed: " + " ".join(f"{k}={v}" for k, v in report.fixed.as_dict().items())
                              + f" orphans_deleted={report.orphans_deleted}")
    unresolved = bool(report.findings) if not fix else bool(report.fixed and report.fixed.failed)
    if unresolved:
        raise typer.Exit(EXIT_FAILED)
