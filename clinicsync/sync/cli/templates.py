"""`clinicsync templates …`"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.sync.cli.context import EXIT_FAILED, app_context, out_console, print_json
from clinicsync.sync.cli.template_check import (
    check_site_templates,
    check_templates,
    patient_languages,
    problem_lines,
    uncovered_languages,
)
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.store.store import Store


def _patient_languages(settings: Settings) -> dict[str, int]:
    """The patients' languages, when the store can be read: checking templates needs no store,
    so an unreachable one only leaves the clinic's own language to check."""
    try:
        store = Store.open(settings.store)
    except Exception:
        return {}
    try:
        return patient_languages(store)
    except SQLAlchemyError:
        return {}
    finally:
        store.close()


app = typer.Typer(help="Message templates.", no_args_is_help=True)


@app.command("check")
def check_command(ctx: typer.Context, json_output: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Render every template against worst-case samples (each language's costliest weekday
    and month names, accented names, every visit mode); print each SMS's segments and whether
    its short answer link fits. Fails when an SMS takes more than one segment or loses its link."""
    settings = app_context(ctx).settings
    config = settings.reminders
    extra = settings.base_dir / config.templates if config.templates else None
    results = check_templates(settings, extra) + check_site_templates(settings)  # each site's own folder too
    # Languages without templates: reported, as their patients would get English.
    uncovered = uncovered_languages(settings, _patient_languages(settings), extra)
    if json_output:
        print_json([r.as_dict() for r in results] + [
            {"language": u.language, "template": None, "channel": None, "patients": u.patients,
             "warnings": [u.message()], "error": None, "problems": []} for u in uncovered])
    else:
        table = Table("language", "template", "channel", "SMS segments", "answer link", "worst sample", "result")
        for r in results:
            size = f"{r.segments} ({r.encoding}, {r.units} chars)" if r.segments else ""
            verdict = "[red]fails[/red]" if r.failed else ("[yellow]warning[/yellow]" if r.warnings else "ok")
            link = {True: "short link", False: "no room: left out", None: ""}[r.answer_link]
            table.add_row(r.label, r.template, r.channel, size, link, r.sample or "", verdict)
        out_console.print(table)
        for line in problem_lines(results) + [f"{u.language}: {u.message()}" for u in uncovered]:
            out_console.print(line, soft_wrap=True, highlight=False, markup=False)
    if any(r.failed for r in results):
        raise typer.Exit(EXIT_FAILED)
