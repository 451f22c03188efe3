"""What "the first successful sync" means: a crash mid-way leaves the connector in its
baseline, so the run that resumes is quiet too; a connector added later to a live store is
baselined on its own first sync; `announce_existing: true` opts out."""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest.engine import sync_connector, sync_once
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Counts, Store

DAY = (date.today() + timedelta(days=10)).isoformat()
HEADER = "appointment_id,start,duration_minutes,patient_id,patient_phone\n"


class Killed(BaseException):
    """The process dies after a batch was stored (as kill -9 would, but in-process)."""


def rows(folder: Path, name: str, *ids: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(HEADER + "".join(
        f"{i},{DAY} {9 + n}:00,30,P{i},(212) 555-01{n:02d}\n" for n, i in enumerate(ids)), encoding="utf-8")


def csv(name: str, folder: Path, extra: str = "") -> str:
    return (f"- name: {name}\n  kind: csv\n  mapping: csv_default\n  drop_dir: {folder}\n  settle_seconds: 0\n"
            f"  batch_size: 2\n{extra}")


# Every patient message into the dry-run outbox, one reminder a day ahead, no agendas.
OUTBOX_REMINDERS = textwrap.dedent("""
    notifiers:
      - {name: outbox, kind: outbox}
    reminders:
      offsets: [1d]
      routes: {sms: outbox, email: outbox, whatsapp: outbox}
      agenda: {enabled: false}
    """)


@pytest.fixture
def settings_for(write_settings: Callable[..., Path]) -> Callable[..., Settings]:
    def make(connectors: str) -> Settings:
        return load_settings(write_settings(connectors, extra=OUTBOX_REMINDERS))
    return make


def told(store: Store) -> Counter[tuple[str, str]]:
    """(kind, connector) of every planned patient message."""
    with store.engine.connect() as connection:
        found = connection.execute(select(REMINDERS.c.kind, REMINDERS.c.connector)
                                   .where(REMINDERS.c.recipient == "patient")).all()
    return Counter((kind, connector) for kind, connector in found)


def test_a_crash_mid_first_sync_resumes_as_baseline(store: Store, tmp_path: Path,
                                                    settings_for: Callable[..., Settings]) -> None:
    front = tmp_path / "front"
    rows(front, "a.csv", "A1", "A2", "A3", "A4", "A5")
    settings = settings_for(csv("front", front))
    config = settings.connectors[0]

    def die(connector: str, counts: Counts) -> None:
        raise Killed

    with pytest.raises(Killed):
        sync_connector(settings, store, config, "run1", on_batch=die)
    assert not store.baseline_done("front")
    plan(settings, store)
    assert told(store) == Counter({("reminder", "front"): 2})  # the two stored, quietly

    report = sync_connector(settings, store, config, "run2")  # restarted: resumes after the stored batch
    assert (report.counts.created, report.error) == (3, None)
    assert store.baseline_done("front")
    plan(settings, store)
    assert told(store) == Counter({("reminder", "front"): 5})

    rows(front, "b.csv", "A6")  # booked after go-live
    sync_connector(settings, store, config, "run3")
    plan(settings, store)
    assert told(store) == Counter({("reminder", "front"): 6, ("confirmation", "front"): 1})


def test_a_connector_added_later_is_baselined_on_its_own_first_sync(store: Store, tmp_path: Path,
                                                                    settings_for: Callable[..., Settings]) -> None:
    front, annex = tmp_path / "front", tmp_path / "annex"
    rows(front, "a.csv", "A1", "A2")
    settings = settings_for(csv("front", front))
    sync_once(settings, store)
    plan(settings, store)

    rows(front, "b.csv", "A3")  # news for the live connector ...
    rows(annex, "a.csv", "X1", "X2", "X3")  # ... and the existing bookings of a second site
    settings = settings_for(csv("front", front) + csv("annex", annex))
    report = sync_once(settings, store)
    assert report.connectors["annex"].counts.created == 3
    plan(settings, store)
    assert told(store) == Counter({("reminder", "front"): 3, ("confirmation", "front"): 1,
                                   ("reminder", "annex"): 3})


def test_announce_existing_confirms_what_the_first_sync_finds(store: Store, tmp_path: Path,
                                                              settings_for: Callable[..., Settings]) -> None:
    front = tmp_path / "front"
    rows(front, "a.csv", "A1", "A2")
    settings = settings_for(csv("front", front, "  announce_existing: true\n"))
    sync_once(settings, store)
    plan(settings, store)
    assert told(store) == Counter({("reminder", "front"): 2, ("confirmation", "front"): 2})
