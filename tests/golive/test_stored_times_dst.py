"""A practice database that keeps naive UTC (Odoo, Django, Rails: issue 57), end to end
through the CLI and the dry-run outbox, across a daylight-saving change: with
`stored_times: utc` every instant is stored right, every visit is in the clinic's zone (or
its location's), and the messages and the quiet hours follow the visit's LOCAL time — the
patient of an 8:30 AM visit is told 8:30 AM, not 2:30 PM (UTC) nor 7:30 AM (the wrong
offset a week after the change)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

ZONE, DENVER = "America/Chicago", "America/Denver"
CHICAGO = ZoneInfo(ZONE)


def november_change(today: date) -> date:
    """The next Sunday in November when Chicago's clocks go back (first Sunday of November)."""
    for year in (today.year, today.year + 1):
        day = date(year, 11, 1)
        sunday = day + timedelta(days=(6 - day.weekday()) % 7)
        if sunday > today + timedelta(days=2):
            return sunday
    raise AssertionError("unreachable")


@pytest.fixture
def visits(postgres_url: str) -> dict[str, datetime]:
    """Three visits at 8:30 AM local, written as naive UTC: the Friday before the change
    (CDT, UTC-5), the Monday after it (CST, UTC-6), and the Monday at the Denver annex (MST,
    its patient reached by email)."""
    change = november_change(datetime.now(CHICAGO).date())
    friday, monday = change - timedelta(days=2), change + timedelta(days=1)
    local = {"fri": (datetime.combine(friday, time(8, 30)), CHICAGO, "Main"),
             "mon": (datetime.combine(monday, time(8, 30)), CHICAGO, "Main"),
             "den": (datetime.combine(monday, time(8, 30)), ZoneInfo(DENVER), "Annex")}
    instants = {k: wall.replace(tzinfo=tz).astimezone(UTC) for k, (wall, tz, _) in local.items()}
    stamp = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(minutes=5)
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("CREATE TABLE calendar_event (id text PRIMARY KEY, start timestamp, stop timestamp, "
                           "state text, location text, partner_name text, partner_phone text, partner_email text, "
                           "write_date timestamp)")
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO calendar_event VALUES (%s, %s, %s, 'booked', %s, %s, %s, %s, %s)",
                [(k, instants[k].replace(tzinfo=None), (instants[k] + timedelta(minutes=30)).replace(tzinfo=None),
                  place, f"Patient {k}", None if k == "den" else f"+1 312 555 01{n:02d}", f"{k}@example.org",
                  stamp)
                 for n, (k, (_, _, place)) in enumerate(local.items())])
    return instants


MAPPING = """\
name: odoo_like
fields:
  external_id: {from: id, required: true}
  start: {from: start}
  end: {from: stop}
  status: {from: state}
  location: {from: location}
  patient.external_id: {from: partner_email}
  patient.name: {from: partner_name}
  patient.phone: {from: partner_phone}
  patient.email: {from: partner_email}
"""
PLACES = """\
  places:
    Main: {address: "1 Main St, Chicago"}
    Annex: {address: "9 Pine St, Denver", timezone: America/Denver}
"""
SETTINGS = """\
notifiers:
  - {name: outbox, kind: outbox, directory: %s}
reminders:
  offsets: [1d, 2h]
  confirmation: false
  quiet_hours: {start: "21:00", end: "08:00"}
  channels: [sms, email]
  routes: {sms: outbox, email: outbox, whatsapp: outbox}
  agenda: {enabled: false}
"""


def outbox_texts(folder: Path) -> dict[str, list[str]]:
    """Each visit's messages in the outbox (SMS bodies and emails' plain text), by visit id."""
    found: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".json":
            body = json.loads(path.read_text(encoding="utf-8"))
            text, to = body["body"], body["to"]
            who = {"+13125550100": "fri", "+13125550101": "mon", "+13125550102": "den"}[to]
        elif path.suffix == ".eml":
            mail = message_from_bytes(path.read_bytes(), policy=policy.default)
            part = mail.get_body(("plain",))
            assert part is not None
            text, who = part.get_content(), str(mail["To"]).split("@")[0].strip("<")
        else:
            continue
        found.setdefault(who, []).append(text)
    return found


@pytest.mark.postgres
def test_a_naive_utc_source_reminds_in_local_time_across_the_november_change(
        visits: dict[str, datetime], postgres_url: str, tmp_path: Path,
        write_settings: Callable[..., Path], cli: Callable[..., Any]) -> None:
    mapping = tmp_path / "odoo_like.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    outbox = tmp_path / "outbox"
    connector = textwrap.dedent(f"""\
        - name: odoo
          kind: sql
          url: "{postgres_url}"
          query: SELECT * FROM calendar_event
          mapping: {mapping}
          cursor_column: write_date
          stored_times: utc
        """)
    settings = write_settings(connector, extra=SETTINGS % outbox, timezone=ZONE)
    settings.write_text(settings.read_text(encoding="utf-8").replace("  default_region: US\n",
                                                                     "  default_region: US\n" + PLACES, 1),
                        encoding="utf-8")
    run = cli(settings)
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["connectors"]["odoo"]["quarantined"] == 0

    # Stored instants right, each visit in its local zone (the clinic's; the annex's own).
    _, out, _ = run("appointments", "list", "--all", "--json", "--from", "2000-01-01")
    stored = {a["external_id"]: (a["start"], a["timezone"]) for a in json.loads(out)["items"]}
    assert stored == {k: (v.strftime("%Y-%m-%dT%H:%M:%SZ"), DENVER if k == "den" else ZONE)
                      for k, v in visits.items()}

    # Quiet hours in local time: the 2-hour reminder of an 8:30 AM visit falls at 6:30 AM, in
    # the quiet hours there (not in UTC's, where 12:30Z is day): moved to 8:00 AM local.
    _, out, _ = run("reminders", "list", "--all", "--json")
    due = {(r["appointment"].split(":")[-1], r["offset"], r["channel"]): r["due_at"]
           for r in json.loads(out)["items"] if r["recipient"] == "patient"}
    two_hours = {k: v for k, v in due.items() if k[1] == "2h"}
    for (visit, _, _), at in two_hours.items():
        zone = ZoneInfo(DENVER if visit == "den" else ZONE)
        assert datetime.fromisoformat(at).astimezone(zone).time() == time(8, 0), (visit, at)
    assert {k[0] for k in two_hours} == set(visits)

    # Send each visit's messages when they are due: the day before at 8:30 local, and 8:00
    # local on the day; the outbox says 8:30 AM for every visit, before and after the change.
    for moment in sorted({datetime.fromisoformat(v) for v in due.values()}):
        run("remind", "--once", "--at", moment.astimezone(UTC).isoformat(), "--json")
    texts = outbox_texts(outbox)
    assert set(texts) == set(visits)
    assert len(list(outbox.rglob("*.eml"))) == 2 and len(list(outbox.rglob("*.json"))) == 4
    for visit, messages in texts.items():
        assert len(messages) == 2, (visit, messages)  # 2 reminders, by SMS (the annex's patient: email)
        for text in messages:
            assert "8:30" in text and "AM" in text, (visit, text)
            assert not any(wrong in text for wrong in ("1:30 PM", "2:30 PM", "3:30 PM", "7:30 AM", "9:30 AM")), text
