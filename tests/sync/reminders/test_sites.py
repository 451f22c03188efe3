"""Two practices in one settings file (issue 60): each visit's messages, answer page and
offer page speak for its own site (name, phone, sender, language, zone, quiet hours), and
a source without a zone of its own takes its site's. A file without `sites:` is covered by
every other test of reminders, responses and the waitlist, unchanged."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest.source_settings import source_timezone
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.responses.record import handle_reply
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.stage import run_waitlist
from tests.responses.test_links import SERVER, links
from tests.sync.reminders.conftest import appointment, put
from tests.sync.reminders.fakes import read_log
from tests.waitlist.test_offers import entry, token_of, waitlist

START = datetime(2030, 6, 12, 17, tzinfo=UTC)  # 13:00 in New York (north), 10:00 in Los Angeles (south)
NIGHT = datetime(2030, 6, 2, 5, tzinfo=UTC)  # 01:00 in New York, 22:00 in Los Angeles: south's quiet hours
SOUTH_MORNING = datetime(2030, 6, 2, 16, tzinfo=UTC)  # 09:00 in Los Angeles, when south's quiet hours end
SITES = """\
sites:
  north:
    name: North Dental
    phone: "+13125550100"
    sms_from: "+13125550101"
    email_from: "North Dental <hello@north.example>"
  south:
    name: Clínica Sur
    phone: "+13055550100"
    timezone: America/Los_Angeles
    language: es-US
    sms_from: "+13055550101"
    email_from: "Clinica Sur <hola@sur.example>"
    quiet_hours: {start: "21:00", end: "09:00"}
"""


@pytest.fixture
def group(write_settings: Callable[..., Path], drop_dir: Path, tmp_path: Path, scripted: Path) -> Settings:
    """North (the group's zone, no quiet hours of its own) and south (Spanish, Los Angeles,
    quiet 21:00-09:00), each with one CSV source, two scripted notifiers and the server."""
    notifiers = "notifiers:\n" + "".join(
        f"  - {{name: {name}, kind: scripted, log: {tmp_path / (name + '.jsonl')}, outcomes: {{}}, "
        f"rate_per_second: 1000}}\n" for name in ("texts", "mails"))
    reminders = ("reminders:\n  quiet_hours: null\n  agenda: {enabled: false}\n  offsets: [1d]\n"
                 "  channels: [sms, email]\n  routes: {sms: texts, email: mails}\n")
    sources = "".join(f"- {{name: {site}-pm, kind: csv, mapping: generic_csv, drop_dir: {drop_dir}, site: {site}}}\n"
                      for site in ("north", "south"))
    path = write_settings(connectors=sources, extra=SITES + notifiers + SERVER + reminders
                          + textwrap.dedent(waitlist("batch")))
    return load_settings(path)


def messages(tmp_path: Path, log: str) -> dict[str, dict[str, str]]:
    """The messages a scripted notifier took, by recipient."""
    return {m["to"]: m for m in read_log(tmp_path / log)} if (tmp_path / log).exists() else {}


def text(page: httpx.Response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page.text).split())


@pytest.mark.anyio
async def test_each_visit_hears_from_its_own_site(group: Settings, store: Store, tmp_path: Path) -> None:
    assert source_timezone(group, group.connector("south-pm")) == "America/Los_Angeles"  # the site's zone
    assert source_timezone(group, group.connector("north-pm")) == "America/New_York"  # the clinic's
    put(store, appointment("N1", START, patient="PN", phone="+13125550111", email="nora@example.org",
                           channel="sms"),
        appointment("N2", START, patient="PM", phone=None, email="max@example.org", channel="email"),
        connector="north-pm")
    put(store, appointment("S1", START, "America/Los_Angeles", patient="PS", phone=None, email="sol@example.org",
                           language=None, channel="email"),  # type: ignore[arg-type]  # no language: the site's
        connector="south-pm")
    plan(group, store, NIGHT)
    with store.engine.connect() as connection:
        due: dict[str, datetime] = dict(connection.execute(select(REMINDERS.c.connector, REMINDERS.c.due_at).where(
            REMINDERS.c.kind == "confirmation", REMINDERS.c.recipient == "patient")).all())
    assert due == {"north-pm": NIGHT, "south-pm": SOUTH_MORNING}  # out of south's quiet hours, by its clock
    Dispatcher(group, store, NIGHT).run()
    texts, mails = messages(tmp_path, "texts.jsonl"), messages(tmp_path, "mails.jsonl")
    assert set(texts) == {"+13125550111"} and set(mails) == {"max@example.org"}  # south waits for its morning

    sms, north_mail = texts["+13125550111"], mails["max@example.org"]
    assert sms["body"].startswith("North Dental: ") and "1:00 PM" in sms["body"]
    assert sms["from"] == "+13125550101"
    assert "North Dental" in north_mail["body"] and "(312) 555-0100" in north_mail["body"]
    assert north_mail["from"] == "North Dental <hello@north.example>"

    Dispatcher(group, store, SOUTH_MORNING).run()
    south_mail = messages(tmp_path, "mails.jsonl")["sol@example.org"]
    assert "Su cita está reservada." in south_mail["body"] and "10:00" in south_mail["body"]
    assert "Clínica Sur" in south_mail["body"] and "(305) 555-0100" in south_mail["body"]
    assert "North" not in south_mail["body"] and "312" not in south_mail["body"]
    assert south_mail["from"] == "Clinica Sur <hola@sur.example>"

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(group, store)),
                                 base_url="https://clinic.example.org") as client:
        page = await client.get(links(south_mail["body"])["confirm"])
    assert page.status_code == 200
    assert "Clínica Sur" in text(page) and "(305) 555-0100" in text(page) and 'href="tel:+13055550100"' in page.text
    assert "North Dental" not in page.text and "3125550100" not in page.text


@pytest.mark.anyio
async def test_an_offer_of_a_south_slot_speaks_for_south(group: Settings, store: Store, tmp_path: Path) -> None:
    phone, waiting = "+13055550111", "+13055550122"
    put(store, appointment("S1", START, "America/Los_Angeles", patient="P1", phone=phone),
        appointment("S2", START + timedelta(days=30), "America/Los_Angeles", patient="W1", phone=waiting),
        connector="south-pm")
    entry(store, "W1", connector="south-pm", timezone="America/Los_Angeles")
    handle_reply(group, store, "sms", phone, "cancel", "SM1", SOUTH_MORNING)
    run_waitlist(group, store, SOUTH_MORNING)
    offer = messages(tmp_path, "texts.jsonl")[waiting]  # (an SMS drops accents GSM-7 lacks)
    assert offer["body"].startswith("Clinica Sur: ") and offer["from"] == "+13055550101"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(group, store)),
                                 base_url="https://clinic.example.org") as client:
        page = await client.get(f"/w/{token_of(offer)}")
    assert page.status_code == 200 and "Clínica Sur" in text(page) and "(305) 555-0100" in text(page)
    assert "North Dental" not in page.text


def test_a_sites_doctor_gets_the_agenda_of_the_sites_day_in_its_language(
        group: Settings, store: Store, tmp_path: Path) -> None:
    agenda = group.reminders.agenda.model_copy(update={"enabled": True, "at": time(7)})
    settings = group.model_copy(update={"reminders": group.reminders.model_copy(update={"agenda": agenda})})
    visit = datetime(2030, 6, 2, 17, tzinfo=UTC)  # 10:00 on Sunday June 2 in Los Angeles
    put(store, appointment("S1", visit, "America/Los_Angeles", doctor_email="luz@sur.example"),
        connector="south-pm")
    plan(settings, store, NIGHT)  # 22:00 on June 1 in Los Angeles, already June 2 in New York
    with store.engine.connect() as connection:
        [row] = connection.execute(select(REMINDERS).where(REMINDERS.c.kind == "agenda")).all()
    assert (row.offset, row.due_at) == ("2030-06-02", datetime(2030, 6, 2, 14, tzinfo=UTC))  # 07:00 there
    Dispatcher(settings, store, row.due_at).run()
    mail = messages(tmp_path, "mails.jsonl")["luz@sur.example"]
    assert mail["subject"].startswith("Su agenda del ") and mail["from"] == "Clinica Sur <hola@sur.example>"
