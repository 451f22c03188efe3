"""What the tests of a source's polls share (test_poll_state.py, test_idle_poll_record.py): one
CSV source in the service's context, and the statements the store is sent while a poll runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import event

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.service.jobs import ServiceContext
from clinicsync.sync.store.store import Store
from tests.reliability.harness import write_drop, write_settings

T = TypeVar("T")


@pytest.fixture
def poll_context(tmp_path: Path, store: Store, store_url: str) -> ServiceContext:
    """The service's context for one CSV source, ``emr``, whose drop folder (tmp_path/drop)
    holds 20 patients' visits: its first poll imports them, the next ones find nothing new."""
    write_drop(tmp_path / "drop", "a.csv", 20, prefix="P-")
    return ServiceContext(load_settings(write_settings(tmp_path, store_url, [
        {"name": "emr", "drop_dir": str(tmp_path / "drop")}])), store)


def statements_during(store: Store, work: Callable[[], T]) -> tuple[T, list[str]]:
    """``work()``'s result and every statement the store's engine was sent meanwhile, in order,
    white space folded: what a test counts to pin how many reads and writes a poll makes."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        return work(), statements
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
