"""configure_logging() no longer imports structlog (~70 ms of each start with what it pulls in,
issue 31 obs 6): the configuration is applied as structlog's import completes, whoever imports
it. These run in a fresh interpreter, where structlog is not imported yet (under pytest it is)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import sys
from clinicsync.common.logs import configure_logging, get_logger
configure_logging({level!r}, {fmt!r}, zone="Europe/Madrid")
assert "structlog" not in sys.modules, "configure_logging imported structlog"
{body}
"""


def _run(body: str, level: str = "info", fmt: str = "json") -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-c", PROBE.format(level=level, fmt=fmt, body=body)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done


def test_a_module_importing_structlog_itself_logs_as_configured() -> None:
    done = _run("import structlog\nstructlog.get_logger('x').info('hello', phone='+34 600 000 000', n=1)\n"
                "structlog.get_logger('x').debug('hidden')")
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert len(lines) == 1  # debug filtered at info: the level came through
    assert lines[0]["event"] == "hello" and lines[0]["level"] == "info" and lines[0]["n"] == 1
    assert lines[0]["phone"] == "[redacted]"  # the redaction processor is in place
    assert lines[0]["timestamp"].endswith("Z")
    assert done.stdout == ""  # structlog's default would print to stdout


def test_get_logger_imports_structlog_on_its_first_line() -> None:
    done = _run("log = get_logger('x')\nassert 'structlog' not in sys.modules\nlog.warning('w', k='v')\n"
                "log.info('below the level')", level="warning")
    assert [json.loads(line)["event"] for line in done.stderr.splitlines()] == ["w"]


def test_the_console_format_keeps_the_clinics_clock() -> None:
    done = _run("get_logger('x').warning('local')", fmt="console")
    assert "CET" in done.stderr or "CEST" in done.stderr, done.stderr
    assert "local" in done.stderr


def test_a_later_configuration_wins_before_the_import() -> None:
    done = _run("configure_logging('error', 'json')\nget_logger('x').warning('dropped')\n"
                "get_logger('x').error('kept')")
    assert [json.loads(line)["event"] for line in done.stderr.splitlines()] == ["kept"]


def test_structlog_comes_without_richs_formatters_and_exceptions_read_the_same() -> None:
    """rich's traceback and pretty-printer (pygments, attrs: ~110 M instructions of an idle
    `sync --once`) are hidden from structlog's import: the chain formats exceptions as plain
    text before any renderer, so a logged exception reads the same in both formats."""
    body = ("import structlog\n"
            "hidden = sorted(m for m in ('rich.traceback', 'rich.pretty', 'pygments', 'attr') if m in sys.modules)\n"
            "assert not hidden, hidden\n"
            "import rich.traceback  # still importable by whoever needs it\n"
            "try:\n    1 / 0\nexcept ZeroDivisionError:\n    get_logger('x').exception('failed', n=1)\n")
    console = _run(body, fmt="console").stderr
    assert "failed" in console and "Traceback (most recent call last):" in console, console
    assert "ZeroDivisionError: division by zero" in console and "╭" not in console  # plain, not rich's box
    line = json.loads(_run(body).stderr)
    assert line["event"] == "failed" and line["exception"].startswith("Traceback (most recent call last):")


def test_structlog_imported_before_the_configuration_comes_without_richs_formatters_too() -> None:
    """Loading settings that name a SQL source imports its connector, and with it structlog,
    before the CLI configures logging: rich's formatters stay out of that import as well."""
    probe = ("import sys\nimport clinicsync.common.logs\nimport structlog\n"
             "print(sorted(m for m in ('rich.traceback', 'rich.pretty', 'pygments', 'attr') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "[]", (done.stdout, done.stderr)
