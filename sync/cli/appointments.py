"""`clinicsync appointments …`"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from clinicsync.sync.cli.context import app_context, out_console, print_json
from clinicsync.sync.cli.output import Format, FormatOption, UtcOption, emit, moment
from clinicsync.sync.cli.when import option_when
from clinicsync.sync.queries import list_appointments

app = typer.Typer(help="Appointments in the store.", no_args_is_help=True)


@app.command("list")
def list_command(
    ctx: typer.Context,
    fmt: FormatOption = Format.table,
    utc: UtcOption = False,
    json_output: Annotated[bool, typer.Option("--json", hidden=True, help="same as --format json")] = False,
    from_: Annotated[str | None, typer.Option(
        "--from", help="first day or moment, clinic time: 2026-11-24, today, tomorrow, -2d, mon, an ISO time")] = None,
    to: Annotated[str | None, typer.Option(
        "--to", help="last day, inclusive (or a moment), in the same forms as --from")] = None,
    doctor: Annotated[str | None, typer.Option("--doctor", help="the doctor's email")] = None,
    include_deleted: Annotated[bool, typer.Option(help="also list appointments deleted at the source")] = False,
) -> None:
    """List appointments: times in the clinic's zone with the offset (--utc for UTC); JSON keeps UTC `Z`."""
    context = app_context(ctx)
    zone_name = context.settings.clinic.timezone
    start = option_when("--from", from_, zone_name).instant if from_ is not None else None
    end = option_when("--to", to, zone_name).day_end(zone_name) if to is not None else None
    rows = list_appointments(context.store, start, end, doctor, include_deleted)
    zone_info = ZoneInfo(zone_name)
    emit(out_console, Format.json if json_output else fmt,
         ["start (UTC)" if utc else f"start ({zone_name})", "zone", "status", "answer", "doctor", "patient",
          "type", "id"],
         [(moment(row["start"], zone_info, utc), row["timezone"], row["status"], row["answer"] or "",
           (row["practitioner"] or {}).get("name") or "", (row["patient"] or {}).get("id") or "", row["type"] or "",
           f"{row['connector']}:{row['external_id']}") for row in rows], records=rows)


@app.command("show")
def show_command(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="CONNECTOR:EXTERNAL_ID, as `appointments list` shows it")],
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One appointment with its patient, doctor, location and data-quality notes (what the
    import dropped or stood in for, e.g. a vendor language code)."""
    context = app_context(ctx)
    connector, sep, external_id = ref.partition(":")
    if not sep or not connector or not external_id:
        raise typer.BadParameter("give CONNECTOR:EXTERNAL_ID, e.g. ehr:12345", param_hint="REF")
    rows = list_appointments(context.store, include_deleted=True, connector=connector, external_id=external_id)
    if not rows:
        out_console.print(f"no appointment {ref}")
        raise typer.Exit(1)
    row = rows[0]
    if json_output:
        print_json(row)
        return
    table = Table(show_header=False, box=None)
    patient, doctor = row["patient"] or {}, row["practitioner"] or {}
    for label, value in (
        ("appointment", ref), ("status", row["status"] + (" (deleted at the source)" if row["deleted"] else "")),
        ("start (UTC)", row["start"]), ("end (UTC)", row["end"]), ("zone", row["timezone"]),
        ("type", row["type"]), ("location", row["location"]), ("doctor", doctor.get("name") or doctor.get("id")),
        ("patient", patient.get("id")), ("language", patient.get("language")), ("version", str(row["version"])),
    ):
        table.add_row(label, value or "")
    out_console.print(table)
    if row["notes"]:
        out_console.print("data-quality notes:")
        for note in row["notes"]:
            out_console.print(f"  - {note}", markup=False, highlight=False)

