"""`clinicsync source …`: a source renamed in the settings, or removed from them, told to the
store (sync/ingest/orphans.py). `list` shows the sources the store holds that the settings no longer
name; `rename OLD NEW` moves every row of OLD to NEW in one transaction, so that the next sync
finds every visit unchanged (nothing imported, sent or put on a calendar twice); `retire OLD`
says OLD is gone for good: its pending messages are cancelled, nobody told, and its visits
leave the doctors' calendars at the next calendar run. Both are idempotent."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from clinicsync.sync.cli.context import EXIT_FAILED, app_context, err_console, out_console, print_json
from clinicsync.sync.cli.output import print_table
from clinicsync.sync.ingest.orphans import SourceError, find_orphans, recent_window, rename_source, retire_source

app = typer.Typer(help="Sources renamed in or removed from the settings: list, rename, retire.",
                  no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON object")]


def _refused(exc: SourceError) -> typer.Exit:
    err_console.print(f"refused: {exc}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_FAILED)


@app.command("list")
def list_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """The sources the store holds that the settings no longer name, with their future visits
    and pending (held) messages, and the fix."""
    context = app_context(ctx)
    with context.store.engine.connect() as connection:
        orphans = find_orphans(connection, context.settings.connector_names(),
                               recent=recent_window(context.settings.calendar.past_days))
    if json_output:
        print_json([o.as_dict() for o in orphans])
        return
    if not orphans:
        out_console.print("every source the store holds future or recent visits of is in the settings")
        return
    table = Table("source", "future visits", "recent visits", "pending messages",
                  title="sources the settings no longer name")
    for o in orphans:
        table.add_row(o.connector, str(o.future_visits), str(o.recent_visits), str(o.pending_messages))
    print_table(out_console, table)
    for o in orphans:
        out_console.print(f"{o.connector}: {o.detail}", markup=False, highlight=False, soft_wrap=True)


@app.command("rename")
def rename_command(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(help="the source's name before (no longer in the settings)")],
    new: Annotated[str, typer.Argument(help="its name in the settings now")],
    json_output: JsonOption = False,
) -> None:
    """Move every row of source OLD (visits, patients, cursor, fingerprints, quarantine, run
    history, messages, …) to NEW, in one transaction: the next sync finds them unchanged."""
    context = app_context(ctx)
    try:
        result = rename_source(context.store.engine, old, new, context.settings.connector_names())
    except SourceError as exc:
        raise _refused(exc) from None
    if json_output:
        print_json(result.as_dict())
        return
    if not result.done:
        out_console.print(f"nothing to move: source {old} holds no rows; {new} holds its visits (renamed before)",
                          markup=False, highlight=False)
        return
    table = Table("table", "rows moved", title=f"source {old} renamed {new}")
    for name, count in result.moved.items():
        table.add_row(name, str(count))
    print_table(out_console, table)
    held = f"; {result.released} held message(s) back in line" if result.released else ""
    out_console.print(f"{sum(result.moved.values())} row(s) moved from {old} to {new}{held}. The next sync finds "
                      "its visits unchanged.", markup=False, highlight=False, soft_wrap=True)


@app.command("retire")
def retire_command(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(help="the source's name (no longer in the settings)")],
    json_output: JsonOption = False,
) -> None:
    """Source OLD is gone for good: cancel its pending messages (nobody told); its visits leave
    the doctors' calendars at the next calendar run; its rows stay for retention to forget."""
    context = app_context(ctx)
    try:
        result = retire_source(context.store.engine, old, context.settings.connector_names())
    except SourceError as exc:
        raise _refused(exc) from None
    if json_output:
        print_json(result.as_dict())
        return
    if result.already:
        out_console.print(f"source {old} was retired already ({result.retired_at.isoformat()}); "
                          f"{result.cancelled} more pending message(s) cancelled", markup=False, highlight=False)
        return
    out_console.print(f"source {old} retired: {result.cancelled} pending message(s) cancelled (nobody told); its "
                      f"{result.future_visits} future visit(s) leave the doctors' calendars at the next calendar run",
                      markup=False, highlight=False, soft_wrap=True)
