"""A poll is the sole writer of its source's rows only as far as the poll lock reaches: a FHIR
Subscription's push or `quarantine retry` on the same source takes no poll lock. A first
import that took a row for absent (its run's memory: the people and ids it stored itself)
and meets it stored by that other writer applies the batch again, looking every row up,
instead of failing the run (sync.engine ``connector.another_writer``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import text

from clinicsync.connectors.base import Batch, RawRecord
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.ingest.batch_map import map_batch
from clinicsync.sync.ingest.engine import sync_connector
from clinicsync.sync.ingest.source_settings import mapping_for
from clinicsync.sync.store.store import Counts, Store

DAY = (date.today() + timedelta(days=10)).isoformat()
HEADER = ("appointment_id", "start", "duration_minutes", "patient_id", "patient_phone")


def _row(number: int, appointment_id: str) -> dict[str, str]:
    return dict(zip(HEADER, (appointment_id, f"{DAY} {9 + number}:00", "30", f"P{appointment_id}",
                             f"(212) 555-01{number:02d}"), strict=True))


def test_a_first_import_meets_a_row_another_writer_stored_and_goes_on(
        store: Store, tmp_path: Path, write_settings: Callable[..., Path]) -> None:
    ids = ["A1", "A2", "A3", "A4", "A5"]
    folder = tmp_path / "front"
    folder.mkdir()
    (folder / "a.csv").write_text(",".join(HEADER) + "\n" + "".join(
        ",".join(_row(n, i).values()) + "\n" for n, i in enumerate(ids)), encoding="utf-8")
    settings = load_settings(write_settings(
        f"- name: front\n  kind: csv\n  mapping: csv_default\n  drop_dir: {folder}\n  settle_seconds: 0\n"
        "  batch_size: 2\n"))
    config = settings.connectors[0]
    other = Store(store.engine)  # another writer: a memory of its own, none of the run's

    def push_a3_meanwhile(connector: str, counts: Counts) -> None:
        if counts.fetched == 2:  # after the first batch (A1, A2), before the one that holds A3
            mapped, failed = map_batch(mapping_for(settings, config), Batch(records=[RawRecord(_row(2, "A3"), 3)]))
            assert mapped and not failed
            other.apply_batch("front", "another-writer", mapped, [], None)

    report = sync_connector(settings, store, config, "run1", on_batch=push_a3_meanwhile, sole_writer=True)

    assert report.error is None
    assert report.counts.fetched == 5
    with store.engine.connect() as connection:
        stored = connection.execute(text(
            "SELECT external_id, count(*) FROM appointment WHERE connector = 'front' GROUP BY external_id "
            "ORDER BY external_id")).all()
        patients = connection.execute(text(
            "SELECT count(*) FROM patient WHERE connector = 'front'")).scalar_one()
    assert [tuple(r) for r in stored] == [(i, 1) for i in ids]
    assert patients == 5
