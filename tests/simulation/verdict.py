"""Expected against got: 0 extra, 0 missing, none outside its window, every run closed.
The report names the seed, the local day and time, the person's pseudo-id, the message kind,
and what was expected against what was got, so a failure reads without a debugger."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from tests.simulation.calendar_oracle import CalendarOracle
from tests.simulation.faults import POSTGRESQL_ONLY
from tests.simulation.mailbag import Identity, Sent
from tests.simulation.oracle import TOLERANCE
from tests.simulation.scenario import TZ, Scenario

SHOWN = 25  # problems listed in full; the rest are counted


def _when(moment: datetime) -> str:
    return moment.astimezone(TZ).strftime("%a %Y-%m-%d %H:%M")

# The replay of a PostgreSQL-only fault names a store (faults.POSTGRESQL_ONLY).
PG_STORE = "CLINICSYNC_SIM_STORE=postgresql+psycopg://postgres@127.0.0.1:5432/test "


@dataclass
class Verdict:
    scenario: Scenario
    expected: int = 0
    got: int = 0
    problems: list[tuple[datetime, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # stage errors and the like, to explain problems
    calendar_checks: int = 0  # ticks whose .ics files the calendar oracle read
    calendar_problems: int = 0
    waitlist_messages: int = 0  # offers and "taken" notices: judged by waitlist_messages.py, not counted in got

    @property
    def ok(self) -> bool:
        return not self.problems

    def report(self) -> str:
        waitlist = f" (and {self.waitlist_messages} of the waiting list's)" if self.waitlist_messages else ""
        lines = [f"simulation {self.scenario.describe()}: expected {self.expected} messages, got {self.got}{waitlist}, "
                 f"{len(self.problems)} problem(s), {self.calendar_problems} of them in the calendars "
                 f"({self.calendar_checks} checks) (times local {TZ.key}, tolerance {TOLERANCE})"]
        for moment, text in sorted(self.problems, key=lambda p: p[0])[:SHOWN]:
            lines.append(f"  {_when(moment)}  {text}")
        if len(self.problems) > SHOWN:
            lines.append(f"  … and {len(self.problems) - SHOWN} more")
        lines += [f"  note: {note}" for note in self.notes[:10]]
        lines.append(f"  replay: CLINICSYNC_SIM_SEEDS={self.scenario.seed} CLINICSYNC_SIM_DAYS={self.scenario.days} "
                     f"CLINICSYNC_SIM_FAULTS={','.join(sorted(self.scenario.faults)) or 'none'} "
                     f"{PG_STORE if self.scenario.faults & POSTGRESQL_ONLY else ''}"
                     "uv run --frozen python -m tests.simulation")
        return "\n".join(lines)


def judge(scenario: Scenario, expected: list[Sent], got: list[Sent], stuck_runs: list[str],
          notes: list[str], calendar: CalendarOracle | None = None) -> Verdict:
    # The waiting list's messages are the waitlist oracle's: counted apart, so the two counts
    # compare like with like (seed 7303 read "expected 308, got 312": its 4 offers, no extra).
    offers = sum(g.identity.kind.startswith("waitlist ") for g in got)
    verdict = Verdict(scenario, len(expected), len(got) - offers, notes=notes, waitlist_messages=offers)
    if calendar is not None:
        verdict.calendar_checks, verdict.calendar_problems = calendar.checks, len(calendar.problems)
        verdict.problems += calendar.problems
    wanted: dict[Identity, list[datetime]] = defaultdict(list)
    for e in expected:
        wanted[e.identity].append(e.at)
    sent: dict[Identity, list[datetime]] = defaultdict(list)
    for g in got:
        if g.identity.kind.startswith("waitlist "):
            continue  # an offer or "taken" notice: the waitlist oracle's (waitlist_messages.py)
        sent[g.identity].append(g.at)
    for identity in sorted(set(wanted) | set(sent), key=str):
        want, have = sorted(wanted.get(identity, [])), sorted(sent.get(identity, []))
        unmatched: list[datetime] = []
        for at in have:
            match = next((w for w in want if w <= at <= w + TOLERANCE), None)
            if match is None:
                unmatched.append(at)
            else:
                want.remove(match)
        for w, at in zip(want, unmatched, strict=False):
            verdict.problems.append((w, f"outside its window: {identity}: expected {_when(w)}, got {_when(at)}"))
        for w in want[len(unmatched):]:
            verdict.problems.append((w, f"missing: {identity}: expected {_when(w)}, got nothing"))
        for at in unmatched[len(want):]:
            verdict.problems.append((at, f"extra: {identity}: expected nothing, got {_when(at)}"))
    for run in stuck_runs:
        verdict.problems.append((scenario.end, f"stuck run: {run}"))
    return verdict
