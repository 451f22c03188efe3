"""An HL7 v2 sender's time convention apart from its visits' zone (``stored_times``): HL7 reads
a time without an offset as the sender's local time, but some senders (cloud schedulers, an
interface engine on a UTC server) write UTC without saying so. ``stored_times: utc`` reads
those as UTC instants while the visits keep the connector's (or site's, or place's) zone; a
time with an offset is the instant it says either way. Through `sync --once` on a drop folder
and through the MLLP listener, which compiles the mapping the same way (sync/ingest/engine.py
``mapping_for``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.store import Store
from tests.conftest import Cli, SettingsFactory
from tests.connectors.hl7v2_support import capture_logs, siu  # noqa: F401 - an autouse fixture
from tests.connectors.test_hl7v2_mllp import ListenerFactory, listen, loop_thread  # noqa: F401 - fixtures

A = Appointment.__table__.c  # type: ignore[attr-defined]
ONLY_SQLITE = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def stored(store: Store) -> dict[str, tuple[str, str]]:
    with store.engine.connect() as connection:
        rows = connection.execute(select(A.external_id, A.start_utc, A.timezone)).all()
    return {row.external_id: (row.start_utc.isoformat(), row.timezone) for row in rows}


def _drop_and_sync(cli: Callable[[Path | None], Cli], write_settings: SettingsFactory, drop_dir: Path,
                   convention: str) -> dict[str, Any]:
    (drop_dir / "batch.hl7").write_text(
        siu("S12", "M1", "20300301090000", appointment="NAIVE", start="203003041600")
        + siu("S12", "M2", "20300301090000", appointment="OFFSET", start="20300304100000-0600"), encoding="utf-8")
    runner = cli(write_settings(f"""
        - name: siu-files
          kind: hl7v2
          timezone: America/Chicago
          stored_times: {convention}
          drop_dir: {drop_dir}
          settle_seconds: 0
        """))
    _, out, _ = runner("sync", "--once", "--json", expect=None)
    return dict(json.loads(out)["connectors"]["siu-files"])


@ONLY_SQLITE
def test_a_sender_writing_utc_is_read_as_utc_and_its_visits_keep_the_clinic_zone(
        cli: Callable[[Path | None], Cli], write_settings: SettingsFactory, drop_dir: Path, store: Store) -> None:
    assert _drop_and_sync(cli, write_settings, drop_dir, "utc")["created"] == 2
    assert stored(store) == {"NAIVE": ("2030-03-04T16:00:00+00:00", "America/Chicago"),  # 10:00 in Chicago
                             "OFFSET": ("2030-03-04T16:00:00+00:00", "America/Chicago")}


@ONLY_SQLITE
def test_the_default_reads_a_time_without_offset_as_the_senders_local_time(
        cli: Callable[[Path | None], Cli], write_settings: SettingsFactory, drop_dir: Path, store: Store) -> None:
    assert _drop_and_sync(cli, write_settings, drop_dir, "local")["created"] == 2
    assert stored(store) == {"NAIVE": ("2030-03-04T22:00:00+00:00", "America/Chicago"),  # 16:00 in Chicago
                             "OFFSET": ("2030-03-04T16:00:00+00:00", "America/Chicago")}


@ONLY_SQLITE
def test_the_mllp_listener_reads_the_same_convention(listen: ListenerFactory, store: Store) -> None:  # noqa: F811
    running = listen(connector_yaml="stored_times: utc")  # its timezone: America/New_York
    acks = running.send(siu("S12", "M1", "20300301090000", appointment="NAIVE", start="203003041500"))
    assert [a.code for a in acks] == ["AA"]
    assert stored(store) == {"NAIVE": ("2030-03-04T15:00:00+00:00", "America/New_York")}  # 10:00 in New York


@ONLY_SQLITE
def test_the_mllp_listener_reads_a_sites_zone_when_the_connector_names_none(
        write_settings: SettingsFactory, store: Store, loop_thread: Any) -> None:  # noqa: F811
    """The listener compiles its mapping as a polled source's now (mapping_for, not a copy of
    its own): a source's site still gives the zone, here Denver over the clinic's New York."""
    from hl7.client import MLLPClient

    from clinicsync.sync.config.settings import load_settings
    from clinicsync.sync.service.mllp import Hl7Service
    from tests.connectors.hl7v2_support import Ack

    settings = load_settings(write_settings("""
        - name: siu
          kind: hl7v2
          site: denver
          listen: {port: 0}
        """, extra="""
        sites:
          denver: {name: Denver Office, timezone: America/Denver}
        """))
    service = Hl7Service(settings, store)
    [listening] = loop_thread.run(service.start())
    try:
        with MLLPClient("127.0.0.1", listening.port) as client:
            ack = Ack.read(client.send_message(siu("S12", "M1", "20300301090000", appointment="D1",
                                                   start="203003040900")))
    finally:
        loop_thread.run(service.stop())
    assert ack.code == "AA"
    assert stored(store) == {"D1": ("2030-03-04T16:00:00+00:00", "America/Denver")}  # 09:00 MST
