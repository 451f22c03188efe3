"""`clinicsync`: the root command, global options, and the core commands."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from contextlib import suppress
from datetime import date, datetime
from functools import partial
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.common.logs import configure_logging
from clinicsync.sync import db
from clinicsync.sync.cli import (
    api,
    appointments,
    calendar,
    fhir,
    hl7,
    quarantine,
    remind,
    reminders,
    run,
    serve,
    setaside,
    templates,
    ui,
)
from clinicsync.sync.cli.context import (
    EXIT_CONFIG,
    EXIT_FAILED,
    AppContext,
    app_context,
    err_console,
    fail_config,
    out_console,
    print_json,
    store_problem,
)
from clinicsync.sync.cli.output import Format, FormatOption, UtcOption, emit, moment, print_table, resolve_format
from clinicsync.sync.cli.progress import stage_progress
from clinicsync.sync.cli.pushed import push_only_lines
from clinicsync.sync.cli.rehearsal import rehearse
from clinicsync.sync.config_loader import ConfigError
from clinicsync.sync.engine import RunReport
from clinicsync.sync.queries import connector_status
from clinicsync.sync.responses.reply_paths import ReplyProblem, reply_problems
from clinicsync.sync.run_progress import StageActivity, connector_state, running_stages
from clinicsync.sync.service.pipeline import run_once, status_sections
from clinicsync.sync.settings import config_path, json_schema, load_settings
from clinicsync.sync.source_check import SAMPLE_SIZE, SourceCheck, check_connector, mapping_problems
from clinicsync.sync.stalls import close_interrupted_runs, find_stalls

app = typer.Typer(help="clinicsync: appointments from clinic systems to calendars and patients.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
config_app = typer.Typer(help="Settings tools.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
demo_app = typer.Typer(help="The sample data under examples/.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(appointments.app, name="appointments")
app.add_typer(quarantine.app, name="quarantine")
app.add_typer(setaside.app, name="set-aside")
app.command("run")(run.run_command)
app.command("serve")(serve.serve)
app.add_typer(fhir.app, name="fhir")
app.add_typer(calendar.app, name="calendar")
app.add_typer(reminders.app, name="reminders")
app.add_typer(templates.app, name="templates")
app.command("remind")(remind.remind_command)
app.add_typer(hl7.app, name="hl7")
app.add_typer(ui.app, name="ui")
app.add_typer(api.app, name="api")

ConfigOption = Annotated[Path | None, typer.Option(
    "--config", "-c", help="settings file (else $CLINICSYNC_CONFIG, else ./settings.yaml)")]


def _version(value: bool) -> None:
    if value:
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
    ctx.obj = AppContext(config, log_level, log_format)
    ctx.call_on_close(ctx.obj.close)
    # Log settings come from the file when it loads; flags override. A bad file is
    # reported once, by the command that needs it, with exit code 2: here it is only peeked at.
    level, fmt = log_level or "info", log_format or "auto"
    settings = None
    if ctx.invoked_subcommand not in ("config", "demo"):
        try:
            settings = load_settings(config_path(config))
        except ConfigError:
            settings = None
    if settings is not None:
        level, fmt = log_level or settings.logging.level, log_format or settings.logging.format
    if log_level is None and level == "info" and fmt != "json" and sys.stderr.isatty():
        level = "warning"  # a person at a terminal reads the command's output; --log-level info for more
    configure_logging(level, fmt, zone=settings.clinic.timezone if settings is not None else None)


@app.command()
def check(
    ctx: typer.Context,
    sample: Annotated[int, typer.Option(min=1, max=500, help="records to read from each source")] = SAMPLE_SIZE,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    allow_quarantined: Annotated[bool, typer.Option(
        "--allow-quarantined", help="pass even when sampled records would be quarantined")] = False,
) -> None:
    """Validate settings, open the store, read a sample of each connector's source and map
    it (no cursor moves), and check that messages asking for a reply can be answered.
    Exits 1 on any error, and when a sample quarantines records (a mapping that misses a
    status word would set them aside at go-live: fix it first, or pass --allow-quarantined);
    warnings alone pass."""
    context = app_context(ctx)
    settings = context.settings
    store: dict[str, Any] = {"ok": True, "detail": settings.store.url.split("@")[-1]}
    try:
        _ = context.store
    except Exception as exc:  # report, do not crash: this is the diagnosis command
        store = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
    results = [check_connector(settings, config, sample) for config in settings.connectors]
    replies = reply_problems(settings)
    quarantined = sum(r.sampled - r.mapped for r in results if r.sample_source is not None)
    failed = not store["ok"] or any(not r.ok for r in results) or any(p.level == "error" for p in replies)
    failed = failed or (quarantined > 0 and not allow_quarantined)
    if json_output:
        print_json({"ok": not failed, "store": store, "connectors": [r.as_dict() for r in results],
                    "replies": [{"level": p.level, "message": p.message} for p in replies],
                    "quarantined": quarantined})
    else:
        _print_check(store, results, replies)
        if quarantined:
            verdict = "allowed by --allow-quarantined" if allow_quarantined else (
                "fix the mapping (or the source) before going live, or pass --allow-quarantined")
            out_console.print(f"check: {quarantined} sampled record(s) would be quarantined: {verdict}",
                              soft_wrap=True, highlight=False, markup=False)
    if failed:
        raise typer.Exit(EXIT_FAILED)


def _print_check(store: dict[str, Any], results: list[SourceCheck], replies: list[ReplyProblem]) -> None:
    table = Table("part", "ok", "detail")
    table.add_row("store", "yes" if store["ok"] else "[red]no[/red]", Text(str(store["detail"])))
    for r in results:
        table.add_row(Text(f"connector {r.connector} ({r.kind})"), "yes" if r.ok else "[red]no[/red]",
                      Text("; ".join(r.problems) or r.reached))  # Text: a quoted pattern is no markup
    print_table(out_console, table)

    def say(text: str) -> None:
        out_console.print(text, soft_wrap=True, highlight=False, markup=False)

    for r in results:
        if r.sample_source is not None:
            reasons = ", ".join(f"{reason} x{count}" for reason, count in r.quarantined.most_common())
            say(f"{r.connector}: sample of {r.sampled} from {r.sample_source}: {r.mapped} mapped, "
                f"{r.sampled - r.mapped} quarantined" + (f" ({reasons})" if reasons else ""))
            if r.empty_fields:
                say(f"{r.connector}: empty on every sampled record: {', '.join(r.empty_fields)}")
        for finding in r.findings:
            say(f"{r.connector}: {finding.level}: {finding.message}")
        if r.note:
            say(f"{r.connector}: {r.note}")
    for problem in replies:
        say(f"replies: {problem.level}: {problem.message}")


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
    context = app_context(ctx)
    settings, store = context.settings, context.store
    run = partial(rehearse, settings) if dry_run else partial(run_once, settings, store)
    report: RunReport
    with stage_progress(err_console, enabled=not json_output) as progress:
        report = run(connector, progress=progress)
    pushed = push_only_lines(settings, store)
    if json_output:
        print_json({**report.as_dict(), "push_only": {name: line for name, line in pushed}})
    else:
        _print_report(report, pushed)
        if (note := calendar.no_calendar_note(settings)) is not None:
            err_console.print(note, markup=False, highlight=False, soft_wrap=True)
        if dry_run:
            _print_rehearsal(report)
    if report.failed:
        raise typer.Exit(EXIT_FAILED)


def _print_report(report: RunReport, pushed: list[tuple[str, str]]) -> None:
    table = Table(title=f"sync run {report.run_id}")
    keys = ["fetched", "created", "updated", "rescheduled", "cancelled", "deleted", "unchanged", "quarantined"]
    for key in ["connector", *keys, "error"]:
        table.add_column(key)
    for name, result in report.connectors.items():
        counts = result.counts.as_dict()
        note = f"[red]{result.error}[/red]" if result.error else ("[yellow]skipped[/yellow]" if result.skipped else "")
        table.add_row(name, *(str(counts[k]) for k in keys), note)
    for name, line in pushed:  # a source that pushes has nothing to poll: say what it sent instead
        table.add_row(name, *("" for _ in keys), line)
    print_table(out_console, table)
    for name, result in report.connectors.items():
        if result.skipped:
            out_console.print(f"{name}: {result.skipped}")


def _print_rehearsal(report: RunReport) -> None:
    would = report.extras.get("would_send", {})
    planned = ", ".join(f"{n} {kind}" for kind, n in would.get("pending", {}).items()) or "nothing"
    skipped = ", ".join(f"{n} {kind}" for kind, n in would.get("skipped", {}).items())
    out_console.print(f"dry run: would plan {planned}" + (f" (and record as skipped: {skipped})" if skipped else ""))
    out_console.print("dry run: nothing was written (store, cursor, calendars, outbox); rolled back")


def _plain(value: object) -> str:
    """A status section in words: `pending 0 · sent 12 · failing none` (not a Python dict)."""
    if isinstance(value, dict):
        return " · ".join(f"{key.replace('_', ' ')} {_plain(item)}" for key, item in value.items()) or "none"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(item) for item in value) or "none"
    return "none" if value is None else str(value)


@app.command()
def status(ctx: typer.Context, fmt: FormatOption = None, utc: UtcOption = False,
           json_output: Annotated[bool, typer.Option("--json", hidden=True, help="same as --format json")] = False,
           ) -> None:
    """Each connector's last run (running, ok or failed), failed runs since its last success,
    counts, errors and quarantine size; then each stage's state (reminders, write-back, …)."""
    context = app_context(ctx)
    store = context.store
    fmt = resolve_format(fmt, out_console, json_output)
    zone = ZoneInfo(context.settings.clinic.timezone)
    # the lists' form and clock (12- or 24-hour by the clinic's locale), or UTC with --utc
    when = partial(moment, zone=zone, utc=utc, locale=context.settings.clinic.locale_tag())
    # So a push source's run cut off by a crash is not shown as running; a read-only account
    # may look too (then the next sync closes them).
    with suppress(SQLAlchemyError):
        close_interrupted_runs(store, context.settings)
    rows = connector_status(store)
    sections = {section.key: section.read(store) for section in status_sections()}
    stalls = find_stalls(store, context.settings)
    activity = running_stages(store)
    for row in rows:
        row["state"] = connector_state(row["last_status"], row["last_run_id"],
                                       datetime.fromisoformat(row["last_started"].replace("Z", "+00:00")),
                                       row["connector"], activity)
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
        out_console.print(f"  {key}: {_plain(value)}", highlight=False, soft_wrap=True)
    out_console.print("stalls", style="italic", highlight=False)
    for stall in stalls:
        out_console.print(f"  STALL {stall.kind} {stall.subject}: {stall.detail}", highlight=False, soft_wrap=True,
                          markup=False)
    if not stalls:
        out_console.print("  none", highlight=False)


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
    print(json_schema())


@config_app.command("validate")
def config_validate(ctx: typer.Context) -> None:
    """Validate the settings file and say so."""
    path = config_path(app_context(ctx).config)
    try:
        settings = load_settings(path)
        problems = mapping_problems(settings)
        if problems:
            raise ConfigError(problems, str(path))
    except ConfigError as exc:
        err_console.print(exc.render(), style="red", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG) from None
    out_console.print(f"{path}: valid")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply pending migrations (run once per deployment, before the workers)."""
    settings = app_context(ctx).settings
    try:
        engine = db.make_engine(settings.store.url)
        db.upgrade(engine)
        revision = db.current_revision(engine)
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
    from datetime import timedelta

    from clinicsync.sync.demo import generate_rows, write_csv

    context = app_context(ctx)
    settings = context.settings
    from clinicsync.common.timeutil import zone
    from clinicsync.sync.cli.when import option_when

    if anchor:
        named = option_when("--date", anchor, settings.clinic.timezone)
        first_day = named.day or named.instant.astimezone(zone(settings.clinic.timezone)).date()
    else:
        first_day = date.today() + timedelta(days=1)
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
