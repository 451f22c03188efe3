"""`clinicsync appointments …`"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from clinicsync.common.shown_time import shown_date
from clinicsync.common.timeutil import zone_label
from clinicsync.sync.checks.queries import count_appointments, list_appointments
from clinicsync.sync.cli.context import app_context, err_console, out_console, print_json
from clinicsync.sync.cli.output import (
    DEFAULT_LIMIT,
    Column,
    FormatOption,
    LimitOption,
    UtcOption,
    WideOption,
    emit_list,
    iso_utc,
    moment,
    resolve_format,
    times_note,
)
from clinicsync.sync.cli.sites import SiteOption, site_sources
from clinicsync.sync.cli.when import option_when, parse_when

if TYPE_CHECKING:
    from clinicsync.sync.config.settings import Settings
    from clinicsync.sync.store.store import Store

app = typer.Typer(help="Appointments in the store.", no_args_is_help=True)


DEFAULT_DAYS = 7


@app.command("list")
def list_command(
    ctx: typer.Context,
    fmt: FormatOption = None,
    output: WideOption = None,
    utc: UtcOption = False,
    json_output: Annotated[bool, typer.Option("--json", hidden=True, help="same as --format json")] = False,
    from_: Annotated[str | None, typer.Option(
        "--from", help="first day or moment, clinic time: 2026-11-24, today, tomorrow, -2d, mon, an ISO time "
        f"(default: today, for {DEFAULT_DAYS} days)")] = None,
    to: Annotated[str | None, typer.Option(
        "--to", help="last day, inclusive (or a moment), in the same forms as --from")] = None,
    doctor: Annotated[str | None, typer.Option("--doctor", help="the doctor's email")] = None,
    include_deleted: Annotated[bool, typer.Option(help="also list appointments deleted at the source")] = False,
    limit: LimitOption = DEFAULT_LIMIT,
    every: Annotated[bool, typer.Option("--all", help="every appointment: no default window, no --limit")] = False,
    site: SiteOption = None,
) -> None:
    """List appointments, by default from today for 7 days and at most 200 (the total is
    always said). Times in each visit's own zone for people (--utc for UTC); CSV and JSON
    keep ISO 8601 UTC."""
    context = app_context(ctx)
    settings = context.settings
    sources = site_sources(settings, site)
    zone_name = settings.clinic.timezone
    start = option_when("--from", from_, zone_name).instant if from_ is not None else None
    end = option_when("--to", to, zone_name).day_end(zone_name) if to is not None else None
    if from_ is None and to is None and not every:
        today = parse_when("today", zone_name)
        start, end = today.instant, parse_when(f"+{DEFAULT_DAYS - 1}d", zone_name).day_end(zone_name)
    page_size = None if every else limit
    rows = with_desk_state(context.store, list_appointments(context.store, start, end, doctor, include_deleted,
                                                            limit=page_size, connectors=sources))
    total = len(rows) if page_size is None or len(rows) < page_size else count_appointments(
        context.store, start, end, doctor, include_deleted, connectors=sources)
    locale = settings.clinic.locale_tag()

    def start_shown(row: dict[str, Any]) -> str:
        return moment(row["start"], row["timezone"] or zone_name, utc, locale=locale, home_zone=zone_name)

    columns = [
        Column("start (UTC)" if utc else "start", start_shown, lambda r: r["start"], "start (UTC)", keep=True),
        Column("zone", lambda r: r["timezone"], wide=True),  # a time not in the clinic's zone is labelled
        Column("status", _status, lambda r: r["status"], "status"),
        Column("answer", lambda r: r["answer"] or ""),
        Column("doctor", lambda r: (r["practitioner"] or {}).get("name") or ""),
        Column("patient", lambda r: (r["patient"] or {}).get("id") or ""),
        Column("type", lambda r: r["type"] or ""),
        Column("visit", _visit, lambda r: r["visit_mode"], "visit_mode"),
        Column("desk", lambda r: r["desk_state"] or "", wide=True),  # CSV: the desk's state beside the source's
        Column("id", lambda r: f"{r['connector']}:{r['external_id']}", keep=True),
    ]
    emit_list(out_console, err_console, resolve_format(fmt, out_console, json_output), columns, rows, total,
              output=output,
              noun="appointments", limit=page_size, title=_window_title(start, end, zone_name, locale),
              empty="no appointments in that window", times=times_note(zone_name, utc))


def _window_title(start: datetime | None, end: datetime | None, zone_name: str, locale: str) -> str:
    """'appointments Tue, Nov 24, 2026 to Mon, Nov 30, 2026': the window the table covers."""
    first = f" from {shown_date(start, zone_name, locale)}" if start else ""
    last = f" to {shown_date(end - timedelta(seconds=1), zone_name, locale)}" if end else ""
    return f"appointments{first}{last}"


def with_desk_state(store: Store, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows, each with ``desk_state``: what the front desk recorded that stands (no-show,
    came in, cancelled by the desk, awaiting call-back; None), the same state the pages show."""
    from clinicsync.sync.responses.history import desk_states_of

    with store.engine.connect() as connection:
        states = desk_states_of(connection, [(r["connector"], r["external_id"]) for r in rows])
    return [{**r, "desk_state": states.get((r["connector"], r["external_id"]))} for r in rows]


def _status(row: dict[str, Any]) -> str:
    """The visit's state as the desk and the pages know it: the desk's standing record (a desk
    no-show is a no-show) with the source's status beside it when they differ, else the source's."""
    if row.get("desk_state"):
        return f"{row['desk_state']} (desk; source: {row['status']})"
    return str(row["status"])


_VISIT_WORDS = {"in_person": "in person", "video": "video", "phone": "phone"}


def _visit(row: dict[str, Any]) -> str:
    """The visit mode as people say it: in person, video, phone."""
    return _VISIT_WORDS.get(row["visit_mode"], row["visit_mode"])


@app.command("show")
def show_command(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="CONNECTOR:EXTERNAL_ID, as `appointments list` shows it, or the id "
                                            "alone when one source alone has it")],
    json_output: Annotated[bool, typer.Option("--json")] = False,
    utc: UtcOption = False,
    site: SiteOption = None,
) -> None:
    """One appointment: its times in the visit's own zone (labelled; --utc for UTC), patient,
    doctor, location and data-quality notes (what the import dropped or stood in for), then
    its story: the patient's answers, its reminders and the front desk's actions."""
    context = app_context(ctx)
    sources = site_sources(context.settings, site)
    connector, sep, external_id = ref.partition(":")
    if sep and (not connector or not external_id):
        raise typer.BadParameter("give CONNECTOR:EXTERNAL_ID, e.g. ehr:12345 (or an id one source alone has)",
                                 param_hint="REF")
    if not sep:  # an id alone: the visit it names when one source alone has it
        rows = list_appointments(context.store, include_deleted=True, external_id=ref, connectors=sources, limit=10)
        if len(rows) > 1:
            refs = ", ".join(f"{r['connector']}:{r['external_id']}" for r in rows)
            raise typer.BadParameter(f"{ref!r} is an id in more than one source ({refs}): give CONNECTOR:{ref}",
                                     param_hint="REF")
        connector, external_id = (rows[0]["connector"], ref) if rows else ("", ref)
        ref = f"{connector}:{ref}" if rows else ref
    else:
        rows = list_appointments(context.store, include_deleted=True, connector=connector, external_id=external_id,
                                 connectors=sources)  # another site's visit is "no appointment", as a missing one
    if not rows:
        out_console.print(f"no appointment {ref}")
        raise typer.Exit(1)
    [row] = with_desk_state(context.store, rows[:1])
    story = appointment_story(context.store, connector, external_id)
    if json_output:
        print_json({**row, **story})
        return
    settings = context.settings
    zone_name = row["timezone"] or settings.clinic.timezone
    locale = settings.clinic.locale_tag()

    def when(value: str | datetime | None) -> str:
        return moment(value, zone_name, utc, locale=locale)

    start = datetime.fromisoformat(row["start"].replace("Z", "+00:00"))
    table = Table(show_header=False, box=None)
    patient, doctor = row["patient"] or {}, row["practitioner"] or {}
    for label, value in (
        ("appointment", ref), ("source", _source(settings, connector)),
        ("status", _status(row) + (" (deleted at the source)" if row["deleted"] else "")),
        ("start", when(row["start"])), ("end", when(row["end"])),
        ("times in", "UTC" if utc else zone_label(zone_name, start) + ("" if zone_name == settings.clinic.timezone
                                                                       else " (the visit's zone)")),
        ("answer", row["answer"] or "no answer yet"),
        ("type", row["type"]), ("location", row["location"]), ("visit", _visit(row)),
        ("join link", row["join_url"]), ("dial-in", row["dial_in"]),
        ("doctor", doctor.get("name") or doctor.get("id")),
        ("patient", patient.get("id")), ("language", patient.get("language")), ("version", str(row["version"])),
    ):
        table.add_row(label, value or "")
    out_console.print(table)
    if row["notes"]:
        out_console.print("data-quality notes:")
        for note in row["notes"]:
            out_console.print(f"  - {note}", markup=False, highlight=False)
    _print_story(story, when)


def _source(settings: Settings, connector: str) -> str:
    """'demo-csv (OpenEMR)': the connector, and the system it reads as the clinic calls it
    (its `label:`, else its kind), where a change must be made by hand."""
    config = next((c for c in settings.connectors if c.name == connector), None)
    return connector if config is None else f"{connector} ({config.system_name()})"


def appointment_story(store: Store, connector: str, external_id: str) -> dict[str, list[dict[str, Any]]]:
    """What happened to one appointment, oldest first: the patient's and the source's answers
    (channel, what was understood, what it did; never the reply's text or sender), its
    reminders and the desk's actions, from the same record the History page reads (a desk
    action is listed once, as the desk's, never again as an answer)."""
    from sqlalchemy import select

    from clinicsync.sync.responses.history import visit_history
    from clinicsync.sync.store.model import Appointment, table_of
    from clinicsync.sync.store.model.reminders import REMINDERS

    A = table_of(Appointment)
    with store.engine.connect() as connection:
        ident = connection.execute(select(A.c.id).where(A.c.connector == connector,
                                                        A.c.external_id == external_id)).scalar_one_or_none()
        if ident is None:
            return {"answers": [], "reminders": [], "desk_actions": []}
        history = visit_history(connection, ident)
        reminders = connection.execute(select(REMINDERS).where(REMINDERS.c.appointment_id == ident)
                                       .order_by(REMINDERS.c.due_at, REMINDERS.c.id)).all()
    return {
        "answers": [{"at": iso_utc(e.at), "by": e.actor, "how": e.how, "action": e.action, "outcome": e.outcome}
                    for e in history if e.actor != "front desk"],
        "reminders": [{"due_at": iso_utc(r.due_at), "kind": r.kind, "offset": r.offset, "recipient": r.recipient,
                       "channel": r.channel, "status": r.status, "reason": r.reason,
                       "sent_at": iso_utc(r.sent_at) if r.sent_at else None} for r in reminders],
        "desk_actions": [{"at": iso_utc(e.at), "action": e.action, "user": e.user, "reason": e.reason,
                          "source": e.source, "written": e.written, "undone": e.undone}
                         for e in history if e.actor == "front desk"],
    }


def _print_story(story: dict[str, list[dict[str, Any]]], when: Any) -> None:
    """The answers, reminders and desk actions, one line each, in the appointment's times."""
    from clinicsync.sync.responses.history import ANSWER_WORDS, DESK_WORDS

    sections = (
        ("answers", story["answers"], lambda r: "  ".join(p for p in (
            when(r["at"]), f"{r['by']} {ANSWER_WORDS.get(r['action'], r['action'])}", r["how"],
            f"({r['outcome']})") if p)),
        ("reminders", story["reminders"], lambda r: "  ".join(p for p in (
            when(r["due_at"]), r["kind"] + (f" {r['offset']}" if r["offset"] else ""), r["recipient"],
            r["channel"] or "", r["status"] + (f": {r['reason']}" if r["reason"] else "")) if p)),
        ("desk actions", story["desk_actions"],
         lambda r: f"{when(r['at'])}  {DESK_WORDS.get(r['action'], r['action'])} by {r['user']}"
                   + (f"; reason: {r['reason']}" if r["reason"] else "")
                   + f" (write-back: {r['source']}" + (f", {r['written']}" if r.get("written") else "") + ")"
                   + ("; undone" if r["undone"] else "")),
    )
    for title, items, line in sections:
        out_console.print(f"{title}:" if items else f"{title}: none", highlight=False)
        for item in items:
            out_console.print(f"  {line(item)}", markup=False, highlight=False)
