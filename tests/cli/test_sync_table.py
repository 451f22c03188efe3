"""Issue 31, obs 9: a push-only connector has a row in `sync`'s table, saying what `serve`
received (a row of empty counts looked like a source that was forgotten); and a settings
file without a calendar is told so once."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from clinicsync.sync.store.model import SyncRun
from clinicsync.sync.store.store import Store
from tests.conftest import Cli

SQLITE = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
CALCOM = "- name: bookings\n  kind: calcom\n  secret: s3cret-for-tests\n"


@SQLITE
def test_a_push_only_connector_has_a_row_saying_what_serve_received(
        write_settings: Callable[..., Path], store: Store, cli: Callable[[Path | None], Cli]) -> None:
    run = cli(write_settings(CALCOM))
    _, out, err = run("sync", "--once")
    assert err.count("calendar.provider is none") == 1  # a settings file without `calendar:` writes none: said once
    [row] = [line for line in out.splitlines() if line.startswith("bookings")]
    assert "push-only: 0 received by `serve` in the last 24 h; none ever" in row
    now = datetime.now(UTC)
    with store.engine.begin() as connection:  # three deliveries, as the webhook records them: a run each
        connection.execute(insert(SyncRun.__table__), [  # type: ignore[attr-defined]
            {"run_id": f"push{i}", "connector": "bookings", "started_at": now - timedelta(hours=h),
             "finished_at": now - timedelta(hours=h), "status": "ok", "counts": "{}"}
            for i, h in enumerate((30, 2, 1))])
    report = json.loads(run("sync", "--once", "--json")[1])
    assert report["push_only"]["bookings"].startswith("push-only: 2 received by `serve` in the last 24 h, the last ")
    assert "bookings" not in report["connectors"]  # nothing was polled
