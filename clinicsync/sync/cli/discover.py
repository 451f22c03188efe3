"""`clinicsync discover`: propose the connector and mapping for a source from the source itself.

The argument decides the kind: a database URL (``mysql://…``, ``postgresql://…``,
``sqlite:///…``) is read by the SQL discoverer; an ``http(s)://`` URL is a FHIR server; a
``.csv``/``.txt`` file or a folder of them is a CSV export; a ``.hl7`` file or folder is an
HL7 v2 feed. The proposal is printed (every guess with its confidence, the columns nothing
took, the status words, the environment variables to set); ``--write`` writes it beside the
settings file and runs `check` on the new connector, whose summary line ends the output.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from clinicsync.sync.cli.context import EXIT_CONFIG, EXIT_FAILED, app_context, err_console, out_console, print_json

_KINDS = {"csv": ("clinicsync.sync.discover.csv", "discover_csv", "CSV"),
          "fhir": ("clinicsync.sync.discover.fhir", "discover_fhir", "FHIR"),
          "hl7": ("clinicsync.sync.discover.hl7", "discover_hl7", "HL7 v2"),
          "sql": ("clinicsync.sync.discover.sql", "discover_sql", "SQL")}

UNPLACED_SHOWN = 20  # column names listed as not placed before they are counted


def source_kind(target: str) -> str | None:
    """Which discoverer reads ``target``: sql, fhir, csv, hl7, or None when none does."""
    scheme = target.split("://", 1)[0].lower() if "://" in target else ""
    if scheme in ("http", "https"):
        return "fhir"
    if scheme:
        return "sql"
    path = Path(target)
    suffixes = {p.suffix.lower() for p in path.iterdir() if p.is_file()} if path.is_dir() else {path.suffix.lower()}
    if suffixes & {".hl7"}:
        return "hl7"
    if suffixes & {".csv", ".txt", ".tsv"}:
        return "csv"
    return None


def _say(line: str = "", err: bool = False, block: bool = False) -> None:
    """One line to the terminal, source names in it as data: a table, column or status word
    holding a line break, U+2028/2029, a carriage return or an escape sequence is printed as its
    escape (``\\n``, ``\\u2028``, ``\\x1b``), never as a new line or a terminal command.
    ``block``: text of several lines we wrote (a settings block, a config error), each line escaped."""
    from clinicsync.sync.discover.yaml_out import comment

    text = "\n".join(comment(part) for part in line.split("\n")) if block else comment(line)
    (err_console if err else out_console).print(text, highlight=False, markup=False, soft_wrap=True)


def _discoverer(kind: str) -> Any:
    module_name, function, label = _KINDS[kind]
    try:
        return getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError):
        _say(f"discover: {label} sources are not available yet in this version", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


def _call(function: Any, target: str, options: dict[str, Any]) -> Any:
    """The discoverer with the options it takes (each kind takes its own)."""
    accepted = inspect.signature(function).parameters
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    return function(target, **{k: v for k, v in options.items() if v is not None and (takes_all or k in accepted)})


def _clinic_setting(settings_path: Path) -> dict[str, Any]:
    """The settings file's ``clinic:`` section as written ({} when none): its
    ``default_region`` is the region the connector will read phone numbers in, so the
    proposal reads them the same way; its ``timezone`` the visits' zone when the source and
    its server name none."""
    from clinicsync.sync.config.config_loader import ConfigError, load_yaml_file

    try:
        data = load_yaml_file(settings_path).data if settings_path.is_file() else None
        clinic = data.get("clinic") if isinstance(data, dict) else None
    except (ConfigError, OSError):
        return {}
    return clinic if isinstance(clinic, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


_SECRET_KEY = re.compile(r"url|password|secret|token|api_key", re.I)  # never echoed: a URL may hold a password


def _print_proposal(proposal: Any) -> None:
    what = (f"known product {proposal.product} (confidence {proposal.product_confidence:.2f})"
            if proposal.product else "unknown schema: placed by name, type and sample values")
    _say(f"discover: {proposal.kind} source, {what}; connector {proposal.name!r}")
    for key, why in proposal.connector_notes.items():  # what the admin would not see before --write
        if key in proposal.connector and key not in ("name", "kind") and not _SECRET_KEY.search(key):
            value = " ".join(str(proposal.connector[key]).split())
            _say(f"  {key}: {value if len(value) <= 80 else value[:79] + '…'}  ({why})")
    for guess in proposal.guesses:
        _say(f"  {guess.field:<26} <- {guess.source}  ({guess.confidence:.2f}: {guess.why})")
    if proposal.status_words:
        _say("status words:")
        for word in proposal.status_words:
            meaning = word.status or "? (unknown: give it a status in the mapping file)"
            _say(f"  {word.value!r:<20} -> {meaning}  ({word.count} row(s), {word.confidence:.2f})")
    if proposal.unplaced:  # a joined users table brings dozens of settings columns: the first ones, counted
        shown, more = proposal.unplaced[:UNPLACED_SHOWN], len(proposal.unplaced) - UNPLACED_SHOWN
        _say(f"not placed: {', '.join(shown)}" + (f" and {more} more (all of them: --json)" if more > 0 else ""))
    for note in proposal.notes:
        _say(f"note: {note}")
    for var, meaning in proposal.secret_env.items():
        _say(f"set ${var}: {meaning}")


def discover_command(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(
        help="a database URL, an http(s) FHIR base URL, or a .csv/.hl7 file or folder")],
    name: Annotated[str | None, typer.Option(help="the connector's name (default: from the source)")] = None,
    timezone: Annotated[str | None, typer.Option(
        help="the IANA zone of the clinic's visits, and of the source's wall-clock times unless it keeps UTC "
             "(default: a zone column, else the server's when it names a region, else clinic.timezone)")] = None,
    stored_times: Annotated[str | None, typer.Option(
        "--stored-times", help="SQL and HL7: how the source writes date-times without an offset: utc (Odoo, "
                               "Django, Rails, a sender on a UTC clock …) or local (default: told from the source; "
                               "else discover asks for SQL, and HL7's rule, local, stands)")] = None,
    table: Annotated[str | None, typer.Option(help="SQL: the table holding the appointments, when several look so")]
    = None,
    write: Annotated[bool, typer.Option("--write", help="write the mapping file and add the connector to the "
                                                        "settings file, then check it")] = False,
    print_only: Annotated[bool, typer.Option("--print", help="with --write: write the mapping file but only print "
                                                             "the connector block")] = False,
    mapping_dir: Annotated[Path | None, typer.Option(
        help="where the mapping file goes (default: mappings/ beside the settings file)")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Propose the connector block and mapping for a source, read from the source itself."""
    from clinicsync.sync.config.settings import config_path
    from clinicsync.sync.discover.write import WriteRefused, write_proposal

    kind = source_kind(target)
    if kind is None:
        _say(f"discover: cannot tell what {target!r} is: give a database URL (mysql://…, postgresql://…), an "
             "http(s) FHIR URL, or a .csv/.hl7 file or folder", err=True)
        raise typer.Exit(EXIT_CONFIG)
    function = _discoverer(kind)
    try:
        clinic = _clinic_setting(config_path(app_context(ctx).config))
        proposal = _call(function, target, {"name": name, "timezone": timezone, "table": table,
                                            "region": _text(clinic.get("default_region")),
                                            "stored_times": stored_times,
                                            "clinic_zone": _text(clinic.get("timezone"))})
    except Exception as exc:  # a discoverer's own error says what to give; never a traceback at the admin
        _say(f"discover: {exc}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    report: dict[str, Any] = {"proposal": dataclasses.asdict(proposal)}
    if not json_output:
        _print_proposal(proposal)
    if not write:
        if not json_output:
            _say("discover: nothing written (add --write to write the files and check them)")
        else:
            print_json(report)
        return
    settings_path = config_path(app_context(ctx).config)
    try:
        written = write_proposal(proposal, settings_path, mapping_dir, print_only)
    except WriteRefused as exc:
        _say(f"discover: {exc}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    report["written"] = {"settings": str(written.settings) if written.settings else None,
                         "mapping": str(written.mapping) if written.mapping else None, "block": written.block}
    if written.mapping is not None and not json_output:
        _say(f"discover: wrote {written.mapping}")
    if written.settings is None:
        if json_output:
            print_json(report)
        else:
            _say(f"discover: add this under `connectors:` in {settings_path}:")
            _say(written.block.rstrip("\n"), block=True)
        return
    if not json_output:
        _say(f"discover: added connector {proposal.name!r} to {written.settings}")
    _secrets_for_check(target, proposal.secret_env)
    ok = _check(written.settings, proposal.name, report, json_output)
    if json_output:
        print_json(report)
    if not ok:
        raise typer.Exit(EXIT_FAILED)


def _secrets_for_check(target: str, secret_env: dict[str, str]) -> None:
    """The password the admin typed in the URL, for this process's check only (never written)."""
    if not secret_env:
        return
    from sqlalchemy.engine import make_url

    password = make_url(target).password
    for var in secret_env:
        if password and var not in os.environ:
            os.environ[var] = str(password)


def _check(settings_path: Path, name: str, report: dict[str, Any], quiet: bool) -> bool:
    """`check` on the new connector: the settings load, the source is read whole and mapped."""
    from clinicsync.sync.checks.source_check import check_connector
    from clinicsync.sync.cli.check import clinic_findings, summary_line
    from clinicsync.sync.config.config_loader import ConfigError
    from clinicsync.sync.config.settings import load_settings

    try:
        settings = load_settings(settings_path)
    except ConfigError as exc:
        _say(exc.render(), err=True, block=True)
        raise typer.Exit(EXIT_CONFIG) from None
    config = next(c for c in settings.connectors if c.name == name)
    result = check_connector(settings, config)
    problems = result.failures
    summary = summary_line([result], problems)
    settings_findings = clinic_findings(settings)  # `check` fails on them; the source is fine without
    report["check"] = {**result.as_dict(), "summary": summary,
                       "settings": [{"part": f.part, "level": f.level, "message": f.message}
                                    for f in settings_findings]}
    if not quiet:
        for said in settings_findings:
            _say(f"note: {said.message} (`clinicsync check` fails until then)")
        for problem in result.problems:
            _say(f"{name}: problem: {problem}")
        for finding in result.findings:
            _say(f"{name}: {finding.level}: {finding.message}")
        for reason, count in result.quarantined.most_common():
            _say(f"{name}: would quarantine x{count}: {reason}")
        profile = result.plausibility  # sync/plausibility: the visits as a whole
        for line in profile.lines(name) if profile is not None and profile.visits else ():
            _say(line)
        _say(summary)
    return result.ok and result.quarantined_count == 0
