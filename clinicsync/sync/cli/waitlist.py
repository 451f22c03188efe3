"""`clinicsync waitlist --once`: one waitlist cycle (freed slots, offers, "just been taken"
notices), as the `waitlist` stage of `run` does after each sync."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from clinicsync.sync.cli.context import EXIT_CONFIG, app_context, err_console, out_console, print_json
from clinicsync.sync.cli.when import option_when
from clinicsync.sync.reminders.dispatch import RoutingError
from clinicsync.sync.waitlist.stage import run_waitlist


def waitlist_command(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="run one cycle, then exit")] = False,
    at: Annotated[str | None, typer.Option(
        "--at", help="act as if it were this time: ISO 8601, or e.g. 'tomorrow 13:00', '+2h' (clinic time)")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Offer freed slots to waiting patients (one cycle, as `run` does after each sync)."""
    context = app_context(ctx)
    settings = context.settings
    # Every argument is checked before --once is asked for: a bad --at names --at.
    moment = option_when("--at", at, settings.clinic.timezone).instant if at else datetime.now(UTC)
    if not once:
        err_console.print("use `clinicsync waitlist --once` (a long-running service is `clinicsync run`)")
        raise typer.Exit(EXIT_CONFIG)
    store = context.store
    if not settings.waitlist.enabled:
        err_console.print("waitlist.enabled is false: nothing to do (docs/waitlist.md)")
    try:
        result = run_waitlist(settings, store, moment)
    except RoutingError as exc:
        err_console.print(str(exc))
        raise typer.Exit(EXIT_CONFIG) from None
    if json_output:
        print_json(result)
    elif settings.waitlist.enabled:
        out_console.print(", ".join(f"{key.replace('_', ' ')} {value}" for key, value in result.items()
                                    if key != "error"))
    if result.get("error"):
        err_console.print(f"[red]{result['error']}[/red]")
        raise typer.Exit(EXIT_CONFIG)
