"""quarantine.resolve_imported's range probe on SQLite (issue 32): a batch whose ids lie
outside every open item's record id is not looked up id by id, and what it resolves is what
the full look-up resolves, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from clinicsync.common.types import utcnow
from clinicsync.sync.store import quarantine
from clinicsync.sync.store.quarantine import QuarantineEntry
from clinicsync.sync.store.store import Store

OPEN_IDS = ["A-0100", "A-0200", "B-1", "é-1", "a-0150"]  # capitals sort before lower case, é after both


def _open(store: Store, connector: str) -> list[str]:
    with store.engine.connect() as connection:
        return [row[0] for row in connection.execute(text(
            "SELECT record_id FROM quarantine WHERE status = 'open' AND connector = :c ORDER BY id"), {"c": connector})]


@pytest.mark.parametrize(("batch", "resolved"), [
    (["A-0001", "A-0099"], []),  # below every item
    (["A-0201", "A-0300"], []),  # between two items (B-1 after): nothing in range
    (["A-0050", "A-0100"], ["A-0100"]),  # an end of the range is an item
    (["A-0001", "A-0150", "A-0300"], []),  # an item inside the range, not named: looked up, none resolved
    (["A-0001", "A-0150", "A-0200"], ["A-0200"]),
    (["a-0150", "z"], ["a-0150"]),
    (["é-1"], ["é-1"]),
    (["C", "D"], []),
])
def test_a_batch_resolves_what_the_full_look_up_resolves(store: Store, monkeypatch: pytest.MonkeyPatch,
                                                         batch: list[str], resolved: list[str]) -> None:
    now = utcnow()
    with store.engine.begin() as connection:
        quarantine.record(connection, "src", "run-1", [QuarantineEntry(f"f:{i}", "bad", record_id=record_id)
                                                       for i, record_id in enumerate(OPEN_IDS)], now)
        quarantine.record(connection, "other", "run-1", [QuarantineEntry("f:9", "bad", record_id=batch[0])], now)
    asked: list[list[str]] = []
    real = quarantine.select_in

    def watched(connection: Any, table: Any, names: Any, connector: str, keys: Any, **kw: Any) -> Any:
        asked.append(list(keys))
        return real(connection, table, names, connector, keys, **kw)

    monkeypatch.setattr(quarantine, "select_in", watched)
    with store.engine.begin() as connection:
        closed = quarantine.resolve_imported(connection, "src", batch, now, probed=True)
    assert closed == len(resolved)
    assert _open(store, "other") == [batch[0]]  # another connector's item of the same id stays
    assert _open(store, "src") == [r for r in OPEN_IDS if r not in resolved]
    with store.engine.connect() as connection:
        in_range = any(min(batch) <= r <= max(batch) for r in OPEN_IDS)
        if connection.dialect.name == "sqlite":
            assert bool(asked) == in_range  # looked up id by id only when an item lies in the batch's range
