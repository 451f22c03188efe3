"""`clinicsync`: the root command, global options, and the core commands.

Only typer and the output helpers are imported here: every command imports what it needs
in its body, and the command modules are listed in COMMANDS and imported on use (lazy.py),
so `--help` and `status` start in a fraction of a second (the guard is
tests/cli_start/test_imports.py)."""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clinicsync.sync.cli.context import (
    EXIT_CONFIG,
    EXIT_FAILED,
    AppContext,
    app_context,
    err_console,
    fail_config,
    out_console,
    print_json,
    say_plain,
    store_problem,
)
from clinicsync.sync.cli.lazy import LazyCommand, lazy_group
from clinicsync.sync.cli.output import (
    Format,
    FormatOption,
    UtcOption,
    emit,
    moment,
    plain_lines,
    print_table,
    resolve_format,
    times_note,
)
from clinicsync.sync.cli.terminal import is_terminal

if TYPE_CHECKING:

    from clinicsync.sync.config.settings import Settings
    from clinicsync.sync.ingest.reports import ConnectorReport, RunReport
    from clinicsync.sync.runs.run_progress import StageActivity
    from clinicsync.sync.store.store import Store

# The commands that live in their own modules, in the order `--help` lists them. The help is
# the first paragraph of the command's own help (tests/cli_start checks that they agree).
COMMANDS = (
    LazyCommand("run", "clinicsync.sync.cli.run:run_command",
                "Run continuously: poll each connector on its own schedule and run the post-sync stages."),
    LazyCommand("serve", "clinicsync.sync.cli.serve:serve",
                "Serve webhooks, links, the status page (/ui), /healthz, /readyz and /metrics."),
    LazyCommand("remind", "clinicsync.sync.cli.remind:remind_command",
                "Send the reminders that are due (now, or --at a given time)."),
    LazyCommand("waitlist", "clinicsync.sync.cli.waitlist:waitlist_command",
                "Offer freed slots to waiting patients (one cycle, as `run` does after each sync)."),
    LazyCommand("appointments", "clinicsync.sync.cli.appointments:app", "Appointments in the store."),
    LazyCommand("quarantine", "clinicsync.sync.cli.quarantine:app",
                "Records that could not be imported: list, retry after a mapping fix, resolve."),
    LazyCommand("set-aside", "clinicsync.sync.cli.setaside:app",
                "Items a stage set aside (planning, calendar, dispatch, agenda, write-back): list, retry."),
    LazyCommand("source", "clinicsync.sync.cli.source:app",
                "Sources renamed in or removed from the settings: list, rename, retire."),
    LazyCommand("fhir", "clinicsync.sync.cli.fhir:app", "FHIR connector tools."),
    LazyCommand("calendar", "clinicsync.sync.cli.calendar:app", "Doctors' calendars (Google Calendar or .ics files)."),
    LazyCommand("reminders", "clinicsync.sync.cli.reminders:app", "Planned and sent reminders."),
    LazyCommand("templates", "clinicsync.sync.cli.templates:app", "Message templates."),
    LazyCommand("hl7", "clinicsync.sync.cli.hl7:app", "HL7 v2 scheduling feeds (SIU over MLLP)."),
    LazyCommand("ui", "clinicsync.sync.cli.ui:app", "The status page at /ui."),
    LazyCommand("api", "clinicsync.sync.cli.api:app", "REST API tools (docs/api.md)."),
    LazyCommand("replies", "clinicsync.sync.cli.replies:app", "Patients' replies: rehearse one on this machine."),
    LazyCommand("discover", "clinicsync.sync.cli.discover:discover_command",
                "Propose the connector block and mapping for a source, read from the source itself."),
)


class _Cli(typer.Typer):
    """The root app; run as the `clinicsync` command, it pauses the garbage collector until
    the root callback has loaded the settings (clinicsync/common/gc_tuning.py: ~60 ms of
    `status`'s CPU went to passes that found almost nothing)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from clinicsync.common.gc_tuning import pause_during_start
        from clinicsync.common.yaml_printable import defer_yaml_printable_check

        pause_during_start()
        defer_yaml_printable_check()  # before the settings' `import yaml` (yaml_printable.py)
        return super().__call__(*args, **kwargs)


app = _Cli(help="clinicsync: appointments from clinic systems to calendars and patients.",
           no_args_is_help=True, pretty_exceptions_show_locals=False, cls=lazy_group(COMMANDS))
config_app = typer.Typer(help="Settings tools.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
demo_app = typer.Typer(help="The sample data under examples/.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")

ConfigOption = Annotated[Path | None, typer.Option(
    "--config", "-c", help="settings file (else $CLINICSYNC_CONFIG, else ./settings.yaml)")]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version as package_version  # on use: `--help` need not import it

        out_console.print(f"clinicsync {package_version('clinicsync')}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: Annotated[str | None, typer.Option(help="debug|info|warning|error")] = None,
    log_format: Annotated[str | None, typer.Option(help="auto|console|json")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    from clinicsync.common.gc_tuning import resume_after_start
    from clinicsync.common.logs import configure_logging

    ctx.obj = context = AppContext(config, log_level, log_format)
    ctx.call_on_close(context.close)
    # Log settings come from the file when it loads; flags override. A bad file is
    # reported once, by the command that needs it, with exit code 2: here it is only peeked
    # at (and kept, so the command does not read and validate it a second time).
    level, fmt = log_level or "info", log_format or "auto"
    settings = context.peek_settings() if ctx.invoked_subcommand not in ("config", "demo") else None
    if settings is not None:
        level, fmt = log_level or settings.logging.level, log_format or settings.logging.format
    if log_level is None and level == "info" and fmt != "json" and sys.stderr.isatty():
        level = "warning"  # a person at a terminal reads the command's output; --log-level info for more
    configure_logging(level, fmt, zone=settings.clinic.timezone if settings is not None else None)
    if ctx.invoked_subcommand != "sync":  # `sync` resumes it after its own imports (sync_command)
        resume_after_start()  # the start is done: the command's own work runs with the collector on


@app.command()
def check(
    ctx: typer.Context,
    max_records: Annotated[int, typer.Option(
        "--max-records", "--sample", min=1,
        help="read at most this many records of each source (default: the whole source, up to a million)")
    ] = 1_000_000,  # source_check.MAX_RECORDS, written out so `--help` need not import it
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    allow_quarantined: Annotated[bool, typer.Option(
        "--allow-quarantined", help="pass even when records would be quarantined")] = False,
    offline: Annotated[bool, typer.Option(
        "--offline", help="do not contact the notifiers' providers (sources and the store are still checked)")]
    = False,
    allow_implausible: Annotated[bool, typer.Option(
        "--allow-implausible", help="pass even when the plausibility profile finds errors (shifted times, the "
                                    "wrong patient, deleted rows), once you have made sure they are right")] = False,
) -> None:
    """Rehearse every path before go-live: validate settings, open the store, read each
    connector's whole source and map every record (no cursor moves, no file archived), reach
    each notifier with its real client, and check places, status-page users, reply paths and
    patients' languages. Ends with one summary line. Exits 1 on any problem, and when records
    would be quarantined (fix the mapping first, or pass --allow-quarantined); warnings alone pass."""
    from clinicsync.common.types import utcnow
    from clinicsync.sync.calendar.unrouted import doctors_without_calendar
    from clinicsync.sync.cli.check import run_check
    from clinicsync.sync.ingest.orphans import find_orphans, recent_window
    from clinicsync.sync.runs.settings_watch import running_services

    context = app_context(ctx)
    settings = context.settings
    _fail_on_mapping_problems(context)
    store: dict[str, Any] = {"ok": True, "detail": settings.store.url.split("@")[-1]}
    try:
        with context.store.engine.connect() as connection:  # sources renamed in or removed from the settings
            store["orphaned"] = [o.as_dict() for o in find_orphans(connection, settings.connector_names(),
                                                                   recent=recent_window(settings.calendar.past_days))]
            store["services"] = running_services(connection, settings)  # still on settings before this edit?
            store["doctors_without_calendar"] = [  # what the last syncs stored: doctors with no email
                d.line() for d in doctors_without_calendar(connection, settings.calendar, utcnow())]
    except Exception as exc:  # report, do not crash: this is the diagnosis command
        store = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
    if not run_check(settings, store, max_records, json_output, allow_quarantined, reach=not offline,
                     allow_implausible=allow_implausible):
        raise typer.Exit(EXIT_FAILED)


@app.command("sync")
def sync_command(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="poll every connector once and exit")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    connector: Annotated[list[str] | None, typer.Option(help="only these connectors")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="show what the run would store and which messages it would plan; write nothing")] = False,
) -> None:
    """Poll every connector once: store what changed, quarantine what is bad."""
    if not once:
        err_console.print("use `clinicsync sync --once` (a long-running service is `clinicsync run`)")
        raise typer.Exit(EXIT_CONFIG)
    from clinicsync.common.gc_tuning import resume_after_start
    from clinicsync.sync.cli.process_end import skip_teardown
    from clinicsync.sync.cli.pushed import push_only_lines

    # What a sync opens is closed when it returns: each source's connection by the run
    # (engine.py's finally), the store by the context's close, files under `with`; the process
    # ends without the interpreter's teardown (process_end.py: it cost ~35-60 M instructions).
    skip_teardown()
    try:
        settings, store, run = _prepared_run(ctx, connector, dry_run)
    finally:
        # The root callback left the collector paused (clinicsync/common/gc_tuning.py) through
        # these imports too: the store's model, the engine, the stages are ~0.5 s of imports that
        # build long-lived objects and almost no garbage, and the passes over them were a fifth of
        # an idle cron run's CPU. The run itself collects as usual.
        resume_after_start()
    report: RunReport
    if json_output or not is_terminal(sys.stderr):  # no bars to draw: rich is not imported
        from clinicsync.sync.runs.progress import NO_PROGRESS

        report = run(connector, progress=NO_PROGRESS)
    else:
        from clinicsync.sync.cli.progress import stage_progress

        with stage_progress(err_console, enabled=True) as progress:
            report = run(connector, progress=progress)
    pushed = push_only_lines(settings, store)
    if json_output:
        print_json({**report.as_dict(), "push_only": {name: line for name, line in pushed}})
    else:
        _print_report(report, pushed)
        if (note := no_calendar_note(settings)) is not None:
            say_plain(note, err=True)
        if dry_run:
            _print_rehearsal(report)
    if report.failed:
        raise typer.Exit(EXIT_FAILED)


def _prepared_run(ctx: typer.Context, connector: list[str] | None, dry_run: bool
                  ) -> tuple[Settings, Store, Callable[..., RunReport]]:
    """The settings, the store and the run `sync --once` makes (the real one or the dry run).
    Each import here is one this run uses (cron runs `sync --once` idle most of the
    time): the dry run's machinery only for --dry-run."""
    context = app_context(ctx)
    _fail_on_mapping_problems(context, connector)
    settings, store = context.settings, context.store
    if dry_run:
        from clinicsync.sync.cli.rehearsal import rehearse

        return settings, store, partial(rehearse, settings)
    from clinicsync.sync.runs.settings_watch import note_cron_run
    from clinicsync.sync.service.pipeline import run_once

    note_cron_run(store.engine, settings, "sync --once")  # what a cron job runs, beside the service's
    return settings, store, partial(run_once, settings, store)


def no_calendar_note(settings: Settings) -> str | None:
    """One line when the settings have no `calendar:` section: the shipped
    settings.yaml writes .ics files, but a file written from scratch writes no calendar, and
    a doctor waiting for the visits to appear deserves a word from `sync`. Here, not in the
    `calendar` command module, so that `sync` need not import the calendar's machinery to say it."""
    if settings.calendar.provider != "none":
        return None
    return ("calendar: calendar.provider is none (the default of a settings file without a `calendar:` section), "
            "so no doctor's calendar is written; set `calendar: {provider: ics}` (or google) to have one "
            "(docs/calendar.md)")


def _fail_on_mapping_problems(context: AppContext, only: list[str] | None = None) -> None:
    """A mapping that does not load is a settings error: `check` and `sync` say so as
    `config validate` does (the same lines, exit 2) before reading any source."""
    from clinicsync.sync.checks.mapping_check import mapping_problems
    from clinicsync.sync.config.config_loader import ConfigError
    from clinicsync.sync.config.settings import config_path

    problems = mapping_problems(context.settings, only)
    if problems:
        fail_config(ConfigError(problems, str(config_path(context.config))).render())


_REPORT_COUNTS = ("fetched", "created", "updated", "rescheduled", "cancelled", "deleted", "unchanged", "quarantined")


def _print_report(report: RunReport, pushed: list[tuple[str, str]]) -> None:
    """The run's table: drawn by rich on a terminal; piped (cron's log), plain aligned columns
    written without importing rich (cli/terminal.py: a fifth of an idle run's work)."""
    from clinicsync.sync.store.changes import corrected_line, phones_line

    rows = [[name, *(str(result.counts.as_dict()[k]) for k in _REPORT_COUNTS),
             result.error or ("skipped" if result.skipped else "")] for name, result in report.connectors.items()]
    rows += [[name, *("" for _ in _REPORT_COUNTS), line] for name, line in pushed]  # a pushing source: what it sent
    lines = []
    for name, result in report.connectors.items():
        if result.skipped:
            lines.append(f"{name}: {result.skipped}")
        if result.counts.corrected:
            lines.append(f"{name}: {corrected_line(result.counts.corrected)}")
        if result.counts.phones_elsewhere:
            lines.append(f"{name}: {phones_line(result.counts.phones_elsewhere)}")
    if not is_terminal():
        sys.stdout.write("\n".join([f"sync run {report.run_id}", *plain_lines(["connector", *_REPORT_COUNTS, "error"],
                                                                               rows), *lines]) + "\n")
    else:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=f"sync run {report.run_id}")
        for key in ["connector", *_REPORT_COUNTS, "error"]:
            table.add_column(key)
        results: list[ConnectorReport | None] = [*report.connectors.values(), *(None for _ in pushed)]
        for row, source in zip(rows, results, strict=True):
            style = "" if source is None else "red" if source.error else "yellow" if source.skipped else ""
            table.add_row(*row[:-1], Text(row[-1], style=style))  # a Text: an error's [brackets] are not markup
        print_table(out_console, table)
        for line in lines:
            say_plain(line)
    for orphan in report.extras.get("orphaned_sources", {}).get("sources", []):  # sync/ingest/orphans.py
        err_console.print(f"warning: source {orphan['connector']}: {orphan['detail']}", markup=False,
                          highlight=False, soft_wrap=True)


def _print_rehearsal(report: RunReport) -> None:
    would = report.extras.get("would_send", {})
    planned = ", ".join(f"{n} {kind}" for kind, n in would.get("pending", {}).items()) or "nothing"
    skipped = ", ".join(f"{n} {kind}" for kind, n in would.get("skipped", {}).items())
    out_console.print(f"dry run: would plan {planned}" + (f" (and record as skipped: {skipped})" if skipped else ""))
    for name, result in report.connectors.items():
        for target in result.empty_fields:  # a misspelt column maps without an error: say it once per field
            err_console.print(f"warning: {name}: {target} is empty on all {result.mapped_records} records "
                              "mapped in this run — check the column name in the mapping", highlight=False,
                              soft_wrap=True, markup=False)
        if result.plausibility is not None and result.plausibility.visits:  # sync/plausibility: the run's visits
            summary, *findings = result.plausibility.lines(name)
            out_console.print(f"dry run: {summary}", highlight=False, soft_wrap=True, markup=False)
            for line in findings:
                err_console.print(line, highlight=False, soft_wrap=True, markup=False)
    out_console.print("dry run: nothing was written (store, cursor, calendars, outbox); rolled back")


_ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _plain(value: object, when: Callable[[Any], str | None] | None = None) -> str:
    """A status section in words: `pending 0 · sent 12 · failing none` (not a Python dict).
    ``when``: a moment the section gives as UTC ISO (iso_z, its JSON form) is shown as the
    table's other times are, in the screen's one labelled zone."""
    if isinstance(value, dict):
        return " · ".join(f"{key.replace('_', ' ')} {_plain(item, when)}" for key, item in value.items()) or "none"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(item, when) for item in value) or "none"
    if when is not None and isinstance(value, str) and _ISO_Z.match(value):
        from datetime import UTC

        return when(datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)) or value
    return "none" if value is None else str(value)


@app.command()
def status(ctx: typer.Context, fmt: FormatOption = None, utc: UtcOption = False,
           json_output: Annotated[bool, typer.Option("--json", hidden=True, help="same as --format json")] = False,
           site: Annotated[str | None, typer.Option("--site", help="only this site's sources and stalls (a key of "
                                                                   "`sites:`)")] = None,
           ) -> None:
    """Each connector's last run (running, ok or failed), failed runs since its last success,
    counts, errors and quarantine size; then each stage's state (reminders, write-back, …).
    --site: that site's sources and stalls only (the stages are every site's)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from sqlalchemy.exc import SQLAlchemyError

    from clinicsync.sync.checks.queries import connector_status
    from clinicsync.sync.checks.stalls import find_stalls
    from clinicsync.sync.checks.stalls import of_sources as stalls_of
    from clinicsync.sync.cli.sites import site_sources
    from clinicsync.sync.runs.interrupted import close_interrupted_runs
    from clinicsync.sync.runs.run_progress import connector_state, running_stages
    from clinicsync.sync.service.sections import status_sections

    context = app_context(ctx)
    sources = site_sources(context.settings, site)
    store = context.store_engine  # the Core tables of sync/store/tables.py: no model, no write path
    fmt = resolve_format(fmt, out_console, json_output)
    zone = ZoneInfo(context.settings.clinic.timezone)
    # the lists' form and clock (12- or 24-hour by the clinic's locale), or UTC with --utc
    when = partial(moment, zone=zone, utc=utc, locale=context.settings.clinic.locale_tag())
    # So a push source's run cut off by a crash is not shown as running; a read-only account
    # may look too (then the next sync closes them).
    with suppress(SQLAlchemyError):
        close_interrupted_runs(store, context.settings)
    rows = [row for row in connector_status(store) if sources is None or row["connector"] in sources]
    named = context.settings.connector_names()
    sections = {section.key: section.read(store) for section in status_sections(named, sources)}
    stalls = stalls_of(find_stalls(store, context.settings), context.settings, sources)
    activity = running_stages(store)
    for row in rows:
        row["state"] = connector_state(row["last_status"], row["last_run_id"],
                                       datetime.fromisoformat(row["last_started"].replace("Z", "+00:00")),
                                       row["connector"], activity)
        if row["connector"] not in named:  # renamed or removed: the stalls say what it still holds
            row["state"] = "not in settings"
    if fmt is Format.json:
        print_json({"connectors": rows, "running": [a.as_dict() for a in activity], **sections,
                    "stalls": [stall.as_dict() for stall in stalls]})
        return
    table_rows = []
    for row in rows:
        failing = row["failing_runs"]  # failed runs since the last success: "failed x3"
        state = f"{row['state']} x{failing}" if failing else row["state"]
        table_rows.append((row["connector"], when(row["last_started"]), state,
                           when(row["last_success"]) or "never", row["counts"].get("created", 0),
                           row["quarantined"], row["error"] or ""))
    emit(out_console, fmt, ["connector", "last run", "status", "last success", "created", "quarantined", "error"],
         table_rows, title="connectors" if fmt is Format.table else None)
    if fmt is Format.csv:
        return
    out_console.print("running now", style="italic", highlight=False)
    for line in _activity_lines(activity, when) or ["  nothing"]:
        out_console.print(line, highlight=False, soft_wrap=True, markup=False)
    out_console.print("stages", style="italic", highlight=False)
    for key, value in sections.items():
        out_console.print(f"  {key}: {_plain(value, when)}", highlight=False, soft_wrap=True)
    out_console.print("stalls", style="italic", highlight=False)
    for stall in stalls:
        out_console.print(f"  STALL {stall.kind} {stall.subject}: {stall.detail}", highlight=False, soft_wrap=True,
                          markup=False)
    if not stalls:
        out_console.print("  none", highlight=False)
    out_console.print(times_note(context.settings.clinic.timezone, utc), highlight=False, soft_wrap=True, markup=False)


def _activity_lines(activity: list[StageActivity], when: Callable[[datetime | None], str]) -> list[str]:
    """`import emr: running since Mon, Nov 23, 2026, 8:02 AM, 1,200 rows (of 5,000)`, or why it is stale."""
    lines = []
    for item in activity:
        rows = f"{item.rows:,} rows" + (f" (of {item.total:,})" if item.total is not None else "")
        if item.state == "stale":
            lines.append(f"  {item.stage}: STALE, started {when(item.started_at)}, {rows}; "
                         f"last progress {when(item.heartbeat_at)}: {item.why_stale}")
        else:
            lines.append(f"  {item.stage}: running since {when(item.started_at)}, {rows}")
    return lines


@config_app.command("schema")
def config_schema() -> None:
    """Print the JSON Schema of settings.yaml (for editors)."""
    from clinicsync.sync.config.settings import json_schema

    print(json_schema())


@config_app.command("validate")
def config_validate(ctx: typer.Context) -> None:
    """Validate the settings file and say so."""
    from clinicsync.sync.checks.mapping_check import mapping_problems
    from clinicsync.sync.config.config_loader import ConfigError
    from clinicsync.sync.config.settings import config_path, load_settings
    from clinicsync.sync.reminders.dispatch import routing_problems

    path = config_path(app_context(ctx).config)
    try:
        settings = load_settings(path, defer_secrets=True)
        # A route naming a notifier that was renamed or removed stops every dispatch (`remind`).
        problems = mapping_problems(settings) + routing_problems(settings)
        if problems:
            raise ConfigError(problems, str(path))
    except ConfigError as exc:
        err_console.print(exc.render(), style="red", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG) from None
    out_console.print(f"{path}: valid")
    for problem in settings.unset_secrets:  # the file is right; this shell lacks a secret the service needs
        err_console.print(f"note: {problem}; `sync`, `run`, `serve` and `check` need it", style="yellow",
                          highlight=False, markup=False, soft_wrap=True)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply pending migrations (run once per deployment, before the workers)."""
    from sqlalchemy.exc import SQLAlchemyError

    from clinicsync.sync.store import db

    settings = app_context(ctx).settings
    try:
        engine = db.make_engine(settings.store.url)
        db.upgrade(engine)
        revision = db.current_revision(engine)
    except db.StoreNotReady as exc:  # a store a newer release migrated: never touched
        fail_config(str(exc))
    except (SQLAlchemyError, OSError) as exc:
        fail_config(store_problem(settings.store.url, exc))
    out_console.print(f"database at revision {revision}")
    engine.dispose()


@demo_app.command("reset")
def demo_reset(
    ctx: typer.Context,
    anchor: Annotated[str | None, typer.Option("--date", help="first day of the sample (default: tomorrow)")]
    = None,
    keep_store: Annotated[bool, typer.Option(help="keep the local SQLite store")] = False,
) -> None:
    """Regenerate examples/drop around a date and clear the embedded store."""

    from clinicsync.sync.cli.demo import generate_rows, write_csv

    context = app_context(ctx)
    settings = context.settings
    from clinicsync.common.timeutil import zone
    from clinicsync.sync.cli.when import option_when

    # The clinic's tomorrow, not the machine's: at 9 pm in New York a UTC host is already on the
    # next day, and the sample would start the day after the clinic's tomorrow.
    named = option_when("--date", anchor or "tomorrow", settings.clinic.timezone)
    first_day = named.day or named.instant.astimezone(zone(settings.clinic.timezone)).date()
    csv_configs = [c for c in settings.connectors if c.kind == "csv"]
    if not csv_configs:
        err_console.print("no csv connector in the settings: nothing to regenerate")
        raise typer.Exit(EXIT_CONFIG)
    drop_dir: Path = csv_configs[0].drop_dir  # type: ignore[attr-defined]
    rows = generate_rows(first_day, settings.clinic.timezone)
    write_csv(rows, drop_dir / "appointments.csv")
    url = settings.store.url
    if not keep_store and url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        state_dir = settings.base_dir / ".clinicsync"
        for child in ("outbox", "calendars"):
            shutil.rmtree(state_dir / child, ignore_errors=True)
    out_console.print(f"wrote {len(rows)} rows from {first_day} to {drop_dir / 'appointments.csv'}")
