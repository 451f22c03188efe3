"""What reached people: the dry-run outbox notifier's files, read back after each remind tick.

A file is named by its message's idempotency key, so a message sent twice rewrites its file:
a file that is new or changed since the last look is one message sent at this tick. Who got
it is read from the file (the SMS's number, the email's To:); which appointment and which
reminder from its key, looked up in the store that sent it (the key holds the store's own
appointment id)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.utils import parseaddr
from pathlib import Path

from sqlalchemy import select

from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store
from tests.simulation.scenario import Scenario, scenario_source

A = Appointment.__table__  # type: ignore[attr-defined]
WAITLIST_KEY = re.compile(r"waitlist[:_](offer|taken)[:_](\d+)")  # the key, or its file name (_safe)


@dataclass(frozen=True)
class Identity:
    """One message as a person would tell it apart: to whom, about what, which reminder."""

    person: str  # a patient's or doctor's pseudo-id (P03, D1), or "?<address>" for a stranger
    subject: str  # "front/F00012" (an appointment), or "front/2027-03-04" (an agenda's day)
    kind: str  # confirmation, reminder, rescheduled, cancelled, agenda, …
    detail: str  # a reminder's offset and the start it is for; else ""

    def __str__(self) -> str:
        return f"{self.person} {self.kind}{' ' + self.detail if self.detail else ''} [{self.subject}]"


@dataclass(frozen=True)
class Sent:
    identity: Identity
    at: datetime


class Mailbag:
    def __init__(self, scenario: Scenario, outbox: Path) -> None:
        self.outbox = outbox
        self.seen: dict[Path, tuple[int, int]] = {}
        self.sent: list[Sent] = []
        self.people: dict[str, str] = {}
        for p in scenario.patients:
            self.people[p.phone] = self.people[p.email] = p.id
        for d in scenario.doctors:
            self.people[d.email] = d.id

    def collect(self, store: Store, at: datetime) -> None:
        fresh: list[tuple[str, str]] = []  # (key, address)
        for path in sorted(self.outbox.glob("*/*")):
            if path.suffix not in (".json", ".eml"):
                continue
            stat = path.stat()
            mark = (stat.st_mtime_ns, stat.st_size)
            if self.seen.get(path) == mark:
                continue
            self.seen[path] = mark
            fresh.append(self._read(path))
        if fresh:
            self.sent.extend(Sent(identity, at) for identity in self._identify(store, fresh))

    @staticmethod
    def _read(path: Path) -> tuple[str, str]:
        if path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            return str(data["key"]), str(data["to"])
        message = message_from_bytes(path.read_bytes())
        key = str(message["X-Clinicsync-Key"] or "") or path.stem  # the file name is the key, made safe
        return key, parseaddr(str(message["To"]))[1]

    def _identify(self, store: Store, fresh: list[tuple[str, str]]) -> list[Identity]:
        with store.engine.connect() as connection:
            rows = {r.key: r for r in connection.execute(
                select(REMINDERS.c.key, REMINDERS.c.kind, REMINDERS.c.offset, REMINDERS.c.starts_at,
                       REMINDERS.c.connector, A.c.external_id)
                .outerjoin(A, A.c.id == REMINDERS.c.appointment_id))}
        safe = {_safe(key): row for key, row in rows.items()}
        out = []
        for key, address in fresh:
            row = rows.get(key) or safe.get(key)
            person = self.people.get(address, f"?{address}")
            waitlist = WAITLIST_KEY.fullmatch(key)
            if waitlist is not None:  # an offer, or a "just been taken" notice: the offer's id
                out.append(Identity(person, f"offer/{waitlist[2]}", f"waitlist {waitlist[1]}", ""))
            elif row is None:
                out.append(Identity(person, "?", f"unknown key {key}", ""))
            elif row.kind == "agenda":
                out.append(Identity(person, f"{scenario_source(row.connector)}/{row.offset}", "agenda", ""))
            else:
                detail = f"{row.offset} for {row.starts_at:%Y-%m-%d %H:%M}Z" if row.kind == "reminder" else ""
                out.append(Identity(person, f"{scenario_source(row.connector)}/{row.external_id}", row.kind, detail))
        return out


def _safe(key: str) -> str:
    """notifiers/outbox.py's file name for a key."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key)[:200]
