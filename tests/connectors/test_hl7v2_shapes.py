"""The SIU shapes of issue 57 obs 8 through the hl7v2 drop folder and the real store: an S12
whose only duration is the service segment's (AIS-7/8) is stored with its end, and the S15
for the same visit whose filler status is NOSHOW makes it a no-show, not a cancellation
(fixtures derived from Microsoft FHIR-Converter's samples: tests/fixtures/hl7_siu/SOURCE.txt)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from clinicsync.connectors.hl7v2.settings import Hl7v2Settings
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.engine import sync_connector
from clinicsync.sync.store.model import Appointment, Event
from clinicsync.sync.store.store import Store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hl7_siu"
A = Appointment.__table__.c  # type: ignore[attr-defined]
E = Event.__table__.c  # type: ignore[attr-defined]


def test_ais_duration_then_a_noshow_cancellation(store: Store, store_url: str, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    config = Hl7v2Settings(name="siu", drop_dir=drop, archive_dir=tmp_path / "archive", settle_seconds=0)
    settings = Settings.model_validate({"clinic": {"timezone": "America/New_York"}, "store": {"url": store_url},
                                        "connectors": []})
    for number, name in enumerate(("derived_siu_s12_ais_duration_only", "derived_siu_s15_noshow"), start=1):
        path = drop / f"{number}.hl7"
        path.write_bytes((FIXTURES / f"{name}.hl7").read_bytes())
        past = time.time() - 60
        os.utime(path, (past, past))
        report = sync_connector(settings, store, config, f"run{number}")
        assert (report.error, report.as_dict()["quarantined"]) == (None, 0), report
        with store.engine.connect() as connection:
            row = connection.execute(select(A.external_id, A.status, A.start_utc, A.end_utc)).one()
        assert row.external_id == "36996"
        assert row.start_utc.replace(tzinfo=UTC) == datetime(2021, 9, 24, 7, 15, tzinfo=UTC)
        assert row.end_utc.replace(tzinfo=UTC) == datetime(2021, 9, 24, 8, 5, tzinfo=UTC)  # AIS-4 + AIS-7/8
        assert row.status == ("booked" if number == 1 else "noshow")
    with store.engine.connect() as connection:
        assert [r[0] for r in connection.execute(select(E.kind).order_by(E.id))] == ["created", "noshow"]
