"""The body of `clinicsync check`: rehearse every path before go-live, end with one line.

Each connector's source is read whole and mapped, its visits profiled for plausibility
(source_check, sync/plausibility); each notifier reaches its provider with its real client, and
reminders planned on channels no notifier sends are named (notifier_check); then what a
sample cannot show by itself:
locations no ``clinic.places`` entry describes, a status page nobody may open, messages
that ask for a reply nobody receives (or SMS that carry no reply prompt), patients'
languages with no templates. The last line sums it up for a script or a tired admin:

    checked: 1 sources, 290 records sampled, 6 would be quarantined (reasons: …), 0 problems

Exit 1 on any problem (a plausibility error too, unless --allow-implausible), and when
records would be quarantined (unless --allow-quarantined).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text

from clinicsync.sync.checks.notifier_check import NotifierCheck, check_notifier, unsent_channels
from clinicsync.sync.checks.source_check import SourceCheck, check_connector
from clinicsync.sync.cli.context import out_console, print_json
from clinicsync.sync.cli.output import print_table
from clinicsync.sync.config.clinic import locations_without_place
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.responses.reply_paths import reply_problems


@dataclass(frozen=True)
class Finding:
    part: str  # clinic | sources | services | notifiers | calendars | places | status page | replies | languages
    level: str  # error | warning
    message: str


def place_findings(settings: Settings, results: list[SourceCheck]) -> list[Finding]:
    """Every in-person location seen in the sources that no ``places`` entry names (by id or
    name, as the answer page and messages look it up: sync/config/clinic.py), told per practice: with
    `sites:`, a site's own ``places`` (else ``clinic.places``) is the list its patients get."""
    seen: dict[str | None, Counter[str]] = {}
    for result in results:
        seen.setdefault(settings.site_of(result.connector), Counter()).update(result.locations)
    findings: list[Finding] = []
    for site, counts in seen.items():
        own = site is not None and settings.sites[site].places is not None
        where = f"sites.{site}.places" if own else "clinic.places"
        clinic = settings.clinic if site is None else settings.sites[site].as_clinic(settings.clinic)
        missing = locations_without_place(clinic, ((name, None) for name in sorted(counts)))
        findings += [Finding("places", "warning",
                             f"location {name!r} ({counts[name or '']} record(s){f' of site {site}' if site else ''}) "
                             f"has no entry in {where}: its patients are told to ask the clinic where to go (add it "
                             f"to {where}, or a '*' entry for a one-building clinic)") for name, _ in missing]
    return findings


def clinic_findings(settings: Settings) -> list[Finding]:
    """No source at all: the setup reads nothing. No ``clinic.name`` while reminders are on:
    every message template starts with the clinic's name, so each SMS would begin "clinic: ..."
    and the patient cannot tell who wrote."""
    found = []
    if not settings.connectors:  # e.g. discover stopped to ask and wrote nothing: "0 problems" would be false
        found.append(Finding("clinic", "error", "connectors: no source is configured, so nothing is read, stored "
                                                "or reminded. Run `clinicsync discover <url> --write` (it adds the "
                                                "source here) or add one under `connectors:`"))
    if settings.reminders.enabled and "name" not in settings.clinic.model_fields_set:
        found.append(Finding("clinic", "error", "clinic.name is not set while reminders are on: every message starts "
                                                "with the clinic's name, so patients would read \"clinic: ...\" and "
                                                "not know who writes. Add `name:` under `clinic:` (e.g. name: "
                                                "Riverside Family Practice)"))
    return found


def status_page_findings(settings: Settings) -> list[Finding]:
    if settings.server is None:
        return []
    ui = settings.ui
    if ui is not None and (ui.users or ui.token is not None):
        return []
    return [Finding("status page", "warning", "the server is configured but no status-page user (ui.users) or "
                                              "token exists: nobody can open /ui; add one with `clinicsync ui "
                                              "hash-password`")]


def language_findings(settings: Settings, results: list[SourceCheck]) -> list[Finding]:
    """Patients' languages seen in the sources (and the clinic's own) without templates of
    their own: they get the default language. The rule is `templates check`'s
    (sync/cli/template_check.py ``uncovered_languages``)."""
    from clinicsync.sync.cli.template_check import uncovered_languages

    if not settings.reminders.enabled:
        return []
    seen: Counter[str] = Counter()
    for result in results:
        seen.update(result.languages)
    config = settings.reminders
    extra = settings.base_dir / config.templates if config.templates else None
    return [Finding("languages", "warning", f"language {item.language!r} ({item.patients} record(s)) has no "
                                            "templates: these patients get the default language")
            for item in uncovered_languages(settings, dict(seen), extra)]


def reply_findings(settings: Settings) -> list[Finding]:
    found = [Finding("replies", p.level, p.message) for p in reply_problems(settings)]
    server = settings.server
    sms = [c for c in settings.reminders.channels if c in ("sms", "whatsapp")] if settings.reminders.enabled else []
    if sms and settings.responses.enabled and (server is None or server.public_url is None):
        found.append(Finding("reply prompt", "warning",
                             f"{', '.join(sms)} messages carry no reply prompt (\"Reply C to confirm\") because "
                             "server.public_url is unset: patients are not told they can answer"))
    return found


def notifier_findings(settings: Settings) -> list[Finding]:
    """Reminders planned on channels no notifier sends (sync/checks/notifier_check.py), on the routes
    the dispatch itself resolves; a route naming no notifier is `config validate`'s to report."""
    from clinicsync.sync.reminders.dispatch import RoutingError, resolve_routes

    try:
        routes = resolve_routes(settings)
    except RoutingError:
        return []
    return [Finding("notifiers", level, message) for level, message in unsent_channels(settings, routes)]


def source_findings(store: dict[str, Any]) -> list[Finding]:
    """Sources the store holds future visits or pending messages of that the settings no
    longer name (sync/ingest/orphans.py): their messages are held, and a new source's first run is
    refused, until the admin says which it is."""
    return [Finding("sources", "error", f"source {o['connector']!r}: {o['detail']}") for o in store.get("orphaned", ())]


def service_findings(store: dict[str, Any]) -> list[Finding]:
    """A `clinicsync run` on this store that runs other settings than the file just checked (it
    read them before the edit, or another copy): it applies the edit only once restarted."""
    return [Finding("services", "warning",
                    f"`clinicsync run` on {p['host']} (pid {p['pid']}, started {p['started_at']}) runs settings "
                    f"read before this file's current content ({p['settings_path']}): restart it after the "
                    "check (`systemctl restart clinicsync`, or roll the deployment)")
            for p in store.get("services", ()) if not p["current"]]


def calendar_findings(store: dict[str, Any]) -> list[Finding]:
    """Doctors of the stored visits who get no calendar for want of an email (sync/calendar/unrouted.py)."""
    return [Finding("calendars", "warning", line) for line in store.get("doctors_without_calendar", ())]


def summary_line(results: list[SourceCheck], problems: int) -> str:
    """The last line; ``problems`` counts the ``error:`` and failed lines printed above it."""
    reasons: Counter[str] = Counter()  # by the field a reason names ("start: not a date-time" -> start)
    for result in results:
        for reason, count in result.quarantined.items():
            reasons[reason.split(":")[0] if ":" in reason else reason] += count
    quarantined = sum(reasons.values())
    named = ", ".join(f"{reason} x{count}" for reason, count in reasons.most_common())
    return (f"checked: {len(results)} sources, {sum(r.sampled for r in results)} records sampled, "
            f"{quarantined} would be quarantined" + (f" (reasons: {named})" if named else "") +
            f", {problems} problem{'' if problems == 1 else 's'}")


def run_check(settings: Settings, store: dict[str, Any], max_records: int, json_output: bool,
              allow_quarantined: bool, reach: bool = True, allow_implausible: bool = False) -> bool:
    """Run every check and print it; True when it passed. ``reach``: contact the notifiers'
    providers (off: `--offline`, each notifier is listed as not tried). ``allow_implausible``:
    the plausibility profile's errors are reported but do not fail a source (a clinic that
    really works at night; the admin has looked)."""
    results = [check_connector(settings, config, max_records) for config in settings.connectors]
    for result in results:
        result.implausible_allowed = allow_implausible
    notifiers = [check_notifier(config, settings.notifiers_defaulted) if reach
                 else NotifierCheck(config.name, config.kind, True, "not tried (--offline)")
                 for config in settings.notifiers]
    findings = [*clinic_findings(settings), *source_findings(store), *service_findings(store),
                *notifier_findings(settings),
                *calendar_findings(store), *place_findings(settings, results), *status_page_findings(settings),
                *reply_findings(settings), *language_findings(settings, results)]
    problems = (int(not store["ok"]) + sum(r.failures for r in results) + sum(not n.ok for n in notifiers) +
                sum(f.level == "error" for f in findings))
    quarantined = sum(r.quarantined_count for r in results)
    passed = not problems and (quarantined == 0 or allow_quarantined)
    if json_output:
        print_json({"ok": passed, "store": store, "connectors": [r.as_dict() for r in results],
                    "notifiers": [n.as_dict() for n in notifiers],
                    "replies": [{"level": f.level, "message": f.message} for f in findings if f.part == "replies"],
                    "findings": [{"part": f.part, "level": f.level, "message": f.message} for f in findings],
                    "quarantined": quarantined, "problems": problems,
                    "summary": summary_line(results, problems)})
        return passed
    _print(store, results, notifiers, findings)
    if quarantined:
        verdict = "allowed by --allow-quarantined" if allow_quarantined else (
            "fix the mapping (or the source) before going live, or pass --allow-quarantined")
        _say(f"check: {quarantined} sampled record(s) would be quarantined: {verdict}")
    allowed = sum(r.implausible for r in results) if allow_implausible else 0
    if allowed:
        _say(f"check: {allowed} plausibility error(s) allowed by --allow-implausible: make sure the times and "
             "patients are right before going live")
    _say(summary_line(results, problems))
    return passed


def _say(text: str) -> None:
    out_console.print(text, soft_wrap=True, highlight=False, markup=False)


def _print(store: dict[str, Any], results: list[SourceCheck], notifiers: list[NotifierCheck],
           findings: list[Finding]) -> None:
    table = Table("part", "ok", "detail")
    table.add_row("store", "yes" if store["ok"] else "[red]no[/red]", Text(str(store["detail"])))
    for r in results:
        table.add_row(Text(f"connector {r.connector} ({r.kind})"), "yes" if r.ok else "[red]no[/red]",
                      Text("; ".join(r.problems) or r.reached))  # Text: a quoted pattern is no markup
    for n in notifiers:
        table.add_row(Text(f"notifier {n.notifier} ({n.kind})"), "yes" if n.ok else "[red]no[/red]", Text(n.detail))
    print_table(out_console, table)
    for r in results:
        if r.sample_source is not None:
            what = "the whole source" if r.whole else "a sample"
            where = ", ".join(f"{k} {v}" for k, v in r.positions.items())
            _say(f"{r.connector}: read {what} ({r.sample_source}): {r.sampled} records" +
                 (f" ({where})" if where else "") + f": {r.mapped} mapped, {r.quarantined_count} quarantined")
            for reason, count in r.quarantined.most_common():
                _say(f"{r.connector}: would quarantine x{count}: {reason} (e.g. {r.examples.get(reason, '?')})")
            if r.empty_fields:
                _say(f"{r.connector}: empty on every record read: {', '.join(r.empty_fields)}")
            if r.plausibility is not None and r.plausibility.visits:
                for line in r.plausibility.lines(r.connector):
                    _say(line)
        for finding in r.findings:
            _say(f"{r.connector}: {finding.level}: {finding.message}")
        if r.note:
            _say(f"{r.connector}: {r.note}")
    for f in findings:
        _say(f"{f.part}: {f.level}: {f.message}")


