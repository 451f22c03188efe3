"""`--help` and `status` import only what they need (issue 31, obs 6). A behavioural guard on
what gets imported, not a timing test: the CPU figures are in bench/w7_cli_start.py."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import typer
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert

from clinicsync.sync.cli import app
from clinicsync.sync.cli.lazy import _Placeholder
from clinicsync.sync.cli.main import COMMANDS
from clinicsync.sync.store.db import make_engine
from tests.cli_start.conftest import settings_text

# The web server, the AWS SDK, the FHIR auth stack, SQL parsing, HTTP clients, database
# drivers other than SQLite's, templates: none is needed to print help or read the store.
NOT_FOR_HELP = ("fastapi", "starlette", "uvicorn", "botocore", "boto3", "jwt", "sqlglot", "httpx", "requests",
                "sqlalchemy", "alembic", "pydantic", "psycopg", "pymysql", "jinja2", "structlog", "twilio",
                "sendgrid", "argon2", "icalendar", "prometheus_client")
# The schema check reads alembic_version with one SELECT (sync/store/db.py HEAD_REVISION); settings
# check calendar templates with jinja2 only when a template is set.
NOT_FOR_STATUS = ("fastapi", "starlette", "uvicorn", "botocore", "boto3", "jwt", "sqlglot", "httpx", "requests",
                  "psycopg", "pymysql", "twilio", "sendgrid", "argon2", "icalendar", "prometheus_client",
                  "alembic", "mako", "jinja2", "sqlmodel",
                  # the clinic's region is checked against a copy of phonenumbers' set (common/phone_regions.py);
                  # numbers are parsed, and cron schedules read, only when there are some
                  "phonenumbers", "croniter",
                  # structlog is configured as it is imported (common/logs.py), by a command that logs
                  "structlog", "pygments", "attr")
# `status` reads Core tables (sync/store/tables.py) through the store's engine alone: not the ORM, not
# the model's table classes, not the store's write path, no other database's dialect, and not
# typer's rich help module (imported only to draw help or an error).
NOT_FOR_STATUS_MODULES = ("sqlalchemy.orm", "clinicsync.sync.store.model", "clinicsync.sync.store.store",
                          "clinicsync.sync.store.bulk",
                          "clinicsync.mappings.engine", "sqlalchemy.dialects.postgresql",
                          "sqlalchemy.dialects.mysql", "typer.rich_utils", "clinicsync.sync.responses.writeback")
# rich's table only to draw one on a terminal; babel's date formats (with pytz and the local zone
# babel reads on import) only to show a moment, not for `--format json`.
NOT_FOR_STATUS_JSON_MODULES = ("rich.table", "babel.dates", "pytz",
                               # the outbox builds MIME messages when it writes one, not to be read from settings
                               "clinicsync.notifiers.mime", "email.policy")

# An idle `sync --once` (what cron runs every few minutes, issue 60) imports what its run uses:
# not the FHIR stack (a waiting list books on a FHIR server only when one is configured), not
# another database's dialect, not the dry run's machinery, not rich's progress bars (no terminal),
# not the `calendar` command module (imported once only for its one-line note). Not the
# reply path (an answer to record: record, dispatch, the messages' templates and babel's dates), not
# the waiting list's offers (off here), not the push path (a booked slot), and not jinja2 (the
# calendar compiles its templates on the first event it renders; an idle pass renders none), and
# not the model's table classes (sqlmodel, the ORM): the sync path reads and writes sync/store/tables.py's
# Core tables; the model is the schema, imported to create or migrate a store.
# not typer's pydantic adapters (an option left out is None without one, cli/coercion.py), not
# phonenumbers (imported on the first number a mapping or the store reads), not hl7 (on the first
# HL7 time), not the plausibility profile (a dry run's and `check`'s).
NOT_FOR_IDLE_SYNC = ("jwt", "httpx", "requests", "fastapi", "starlette", "uvicorn", "botocore", "psycopg",
                     "pymysql", "icalendar", "sqlglot", "argon2", "jinja2", "itsdangerous", "sqlmodel", "alembic",
                     "phonenumbers", "hl7",
                     # Rich's traceback and pretty-printer are hidden from structlog's import
                     # (common/logs.py), and with them pygments and attrs
                     "pygments", "attr",
                     # dateutil only for a time in a daylight-saving gap or overlap (common/timeutil.py)
                     "dateutil")
NOT_FOR_IDLE_SYNC_MODULES = ("sqlalchemy.dialects.mysql", "clinicsync.connectors.fhir",
                             "clinicsync.connectors.fhir.booking", "clinicsync.sync.cli.rehearsal",
                             "clinicsync.sync.cli.calendar", "clinicsync.sync.cli.progress", "rich.progress",
                             "clinicsync.sync.responses.record", "clinicsync.sync.reminders.dispatch",
                             "clinicsync.sync.reminders.compose", "clinicsync.sync.reminders.render",
                             "clinicsync.sync.waitlist.offers", "clinicsync.sync.waitlist.release",
                             "clinicsync.sync.ingest.push", "clinicsync.sync.calendar.templates", "babel.dates",
                             "clinicsync.sync.store.model", "sqlalchemy.orm", "typer._adapters",
                             "clinicsync.sync.ingest.plausibility",
                             # the stages, each with nothing to do (sync/checks/stage_probes.py)
                             "clinicsync.sync.calendar.push", "clinicsync.sync.reminders.stage",
                             "clinicsync.sync.waitlist.sources", "clinicsync.sync.waitlist.book",
                             "clinicsync.sync.waitlist.stage", "clinicsync.sync.responses.writeback",
                             "clinicsync.sync.responses.source_answers", "rich.traceback", "rich.pretty",
                             # A mapping's record kind without the waitlist engine (mappings/record_kind.py)
                             "clinicsync.mappings.waitlist",
                             # push runs left open closed without what `status` reports (sync/runs/interrupted.py)
                             "clinicsync.sync.checks.stalls", "clinicsync.sync.runs.mllp_state",
                             # the orphaned sources are looked for hourly (sync/store/upkeep.py): imported then
                             "clinicsync.sync.ingest.orphans",
                             # mappings checked without the whole-source check (sync/checks/mapping_check.py)
                             "clinicsync.sync.checks.source_check", "clinicsync.mappings.audit",
                             # Piped, the report is written plain and the consoles are
                             # made on first use (cli/terminal.py); structlog's import keeps from rich's
                             # console (common/logs.py)
                             "rich.console", "rich.table", "rich.text", "clinicsync.sync.cli.consoles")

PROBE = """
import json, sys
from clinicsync.sync.cli import app
try:
    app({args!r}, prog_name="clinicsync")
except SystemExit as exc:
    code = exc.code
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
sys.exit(code)
"""


def imported(args: list[str], cwd: Path, full: bool = False) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """The run and the packages it imported (``full``: every module's dotted name)."""
    done = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    marker = done.stderr.rsplit("MODULES ", 1)
    assert len(marker) == 2, done.stderr
    names = set(json.loads(marker[1]))
    return done, names if full else {name.split(".")[0] for name in names}


def test_help_lists_every_command_without_importing_them(tmp_path: Path) -> None:
    done, modules = imported(["--help"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert not modules & set(NOT_FOR_HELP), sorted(modules & set(NOT_FOR_HELP))
    for entry in COMMANDS:
        assert entry.name in done.stdout and entry.help[:40] in " ".join(done.stdout.split()), entry.name
    for name in ("check", "sync", "status", "config", "db", "demo"):
        assert f" {name} " in done.stdout


def test_status_reads_the_store_without_the_server_or_the_plugins_it_does_not_use(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text(settings_text(tmp_path), encoding="utf-8")
    first, first_modules = imported(["status", "--format", "json"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "alembic" in first_modules  # a new SQLite store is migrated on first use: alembic is needed then
    done, modules = imported(["status", "--format", "json"], tmp_path, full=True)  # a current store: one SELECT
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["connectors"] == []
    packages = {name.split(".")[0] for name in modules}
    assert not packages & set(NOT_FOR_STATUS), sorted(packages & set(NOT_FOR_STATUS))
    assert not modules & set(NOT_FOR_STATUS_MODULES), sorted(modules & set(NOT_FOR_STATUS_MODULES))
    assert not modules & set(NOT_FOR_STATUS_JSON_MODULES), sorted(modules & set(NOT_FOR_STATUS_JSON_MODULES))
    piped, piped_modules = imported(["status"], tmp_path, full=True)  # plain columns: no table drawn
    assert piped.returncode == 0 and piped.stdout.startswith("connector"), piped.stderr
    assert "rich.table" not in piped_modules


def test_a_usage_error_is_still_one_line_when_rich_help_was_never_imported(tmp_path: Path) -> None:
    """conventions.py patches typer's rich error printer as typer imports it (not at start)."""
    done, modules = imported(["status", "--frm"], tmp_path, full=True)
    assert done.returncode == 2
    assert "typer.rich_utils" in modules  # typer imported it to print the error: the patch must hold
    text = done.stderr.rsplit("MODULES ", 1)[0].strip()
    assert text == ("clinicsync status: No such option: --frm (Possible options: --format); "
                    "see `clinicsync status --help`"), text


def test_the_registry_help_is_the_commands_own() -> None:
    """The registry's line must open the module's own help, so `--help` says what the command says."""
    group = typer.main.get_command(app)
    for entry in COMMANDS:
        assert isinstance(group.commands[entry.name], _Placeholder)  # type: ignore[attr-defined]
        real = entry.load()
        assert " ".join((real.help or "").split()).startswith(entry.help), (entry.name, real.help)


def test_check_default_limit_is_source_checks() -> None:
    from clinicsync.sync.checks.source_check import MAX_RECORDS

    check = typer.main.get_command(app).commands["check"]  # type: ignore[attr-defined]
    assert next(p for p in check.params if p.name == "max_records").default == MAX_RECORDS


def test_the_schema_check_knows_alembics_head() -> None:
    """`status` compares the store's alembic_version with a constant instead of importing
    alembic; a new (or re-chained) migration must move the constant with it."""
    from alembic.script import ScriptDirectory

    from clinicsync.sync.store.db import HEAD_REVISION, MIGRATIONS

    assert ScriptDirectory(str(MIGRATIONS)).get_current_head() == HEAD_REVISION


def test_an_idle_sync_once_imports_only_what_its_run_uses(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text(settings_text(tmp_path), encoding="utf-8")
    first, _ = imported(["sync", "--once"], tmp_path)  # migrates the new store: the idle run is the next
    assert first.returncode == 0, first.stderr
    done, modules = imported(["sync", "--once"], tmp_path, full=True)
    assert done.returncode == 0, done.stderr
    assert "desk" in done.stdout and "fetched" in done.stdout  # the report's table, as before
    assert "calendar.provider is none" in done.stderr  # the note, now without the calendar command module
    assert "clinicsync.sync.service.pipeline" in modules  # the probe ran the real run, not a shortcut
    packages = {name.split(".")[0] for name in modules}
    assert not packages & set(NOT_FOR_IDLE_SYNC), sorted(packages & set(NOT_FOR_IDLE_SYNC))
    # The first run planned the desk's reminders: this one plans again (it cannot know that nothing
    # came of it without planning) and finds nothing, which the next run remembers (stage_mark).
    second = set(NOT_FOR_IDLE_SYNC_MODULES) - {"clinicsync.sync.reminders.stage"}
    assert not modules & second, sorted(modules & second)
    as_json, json_modules = imported(["sync", "--once", "--json"], tmp_path, full=True)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["connectors"]["desk"]["fetched"] == 0
    assert not json_modules & set(NOT_FOR_IDLE_SYNC_MODULES), sorted(json_modules & set(NOT_FOR_IDLE_SYNC_MODULES))


# An idle poll of a SQL source on PostgreSQL: the driver and its dialect, nothing more.
# Its query was checked by the guard on the first poll and the verdict kept in the cursor
# (connectors/sql_passed.py): no sqlglot; no other database's dialect or driver. Not the
# waiting list's booking types (connectors/waitlist_booking.py, imported by a booking).
# Not the iCalendar libraries: a SQL source reads a column as iCalendar text only when its
# ``ical_columns`` name one (connectors/ical_text.py imports them on the first such column).
NOT_FOR_IDLE_SQL_SYNC = ("sqlglot", "pymysql", "jwt", "httpx", "requests", "fastapi", "botocore", "alembic",
                         "sqlmodel", "icalendar", "recurring_ical_events", "x_wr_timezone", "click",
                         # nor dateutil: a repeat rule is parsed when a row holds one (connectors/sql_series.py)
                         "dateutil")
NOT_FOR_IDLE_SQL_SYNC_MODULES = ("sqlalchemy.dialects.mysql", "clinicsync.connectors.sql_guard",
                                 "clinicsync.sync.discover", "clinicsync.sync.store.model", "sqlalchemy.orm",
                                 "clinicsync.connectors.waitlist_booking")


@pytest.mark.postgres
def test_an_idle_sync_once_of_a_sql_source_imports_no_statement_parser(tmp_path: Path, postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    appts = Table("appts", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False),
                  Column("patient_id", String(20)), Column("starts_at", DateTime), Column("minutes", Integer),
                  Column("status", String(20)), Column("updated_at", DateTime))
    try:
        appts.create(engine)
        with engine.begin() as connection:
            connection.execute(insert(appts), [{"id": 1, "patient_id": "p1", "minutes": 20, "status": "booked",
                                                "starts_at": datetime.now() + timedelta(days=3),
                                                "updated_at": datetime(2026, 3, 2, 10)}])
    finally:
        engine.dispose()
    mapping = Path(__file__).parents[1] / "connectors" / "data" / "sql_appointments.yaml"
    source = (f"  - {{name: practice, kind: sql, url: '{postgres_url}', mapping: {mapping}, cursor_column: updated_at,"
              " query: 'SELECT id, patient_id, starts_at, minutes, status, updated_at FROM appts'}\n")
    (tmp_path / "settings.yaml").write_text(settings_text(tmp_path).replace("connectors:\n", "connectors:\n" + source),
                                            encoding="utf-8")
    first, first_modules = imported(["sync", "--once", "--json"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["connectors"]["practice"]["created"] == 1
    assert "sqlglot" in first_modules  # the query was checked, once
    done, modules = imported(["sync", "--once", "--json"], tmp_path, full=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["connectors"]["practice"]["fetched"] == 0
    assert "psycopg" in modules and "clinicsync.connectors.sql" in modules  # the source was read
    packages = {name.split(".")[0] for name in modules}
    assert not packages & set(NOT_FOR_IDLE_SQL_SYNC), sorted(packages & set(NOT_FOR_IDLE_SQL_SYNC))
    assert not modules & set(NOT_FOR_IDLE_SQL_SYNC_MODULES), sorted(modules & set(NOT_FOR_IDLE_SQL_SYNC_MODULES))


GC_PROBE = """
import gc, sys
from clinicsync.sync.cli import app
try:
    app(["sync", "--once"], prog_name="clinicsync")
except SystemExit as exc:
    code = exc.code
from clinicsync.sync.service.pipeline import run_once
heap = {id(o) for o in gc.get_objects()}  # the generations a pass walks; frozen objects are not in them
sys.stderr.write(f"\\nGC enabled={gc.isenabled()} run_once_walked={id(run_once) in heap}\\n")
sys.exit(code)
"""


def test_sync_once_collects_during_its_run_not_during_its_imports(tmp_path: Path) -> None:
    """The root leaves the collector paused through `sync`'s own imports (the store's model, the
    engine, the stages); they are frozen with the start, and the collector is back on for the run."""
    (tmp_path / "settings.yaml").write_text(settings_text(tmp_path), encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", GC_PROBE], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stderr.rstrip().endswith("GC enabled=True run_once_walked=False"), done.stderr[-500:]
