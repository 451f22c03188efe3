"""The simulation's clinic as one long-lived process: two months of syncs, pushes, calendar
writes, dispatches and replies must not leave the service holding more memory each day
(tests/simulation/memory.py; docs/development.md, "Soak tests")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.simulation.memory import measure
from tests.simulation.scenario import generate

FIRST, LAST = 10, 60  # days done: the memos and caches have met the clinic by the tenth
# Measured on 2026-11-26 (seed 7, SQLite, the same filter): 16-20 kB a day held more from the
# tenth day, all of it bounded state still filling (the stdlib's regex cache, 512 patterns, takes
# each email's MIME boundary; SQLAlchemy's statement cache; the calendar and timing memos) —
# about 1 MB over the fifty days. The limit is twice that: 20 kB a day more fails it, e.g.
# ~6 KB kept per sync (this clinic syncs about three times a day, dispatches at its due times).
GROWTH_LIMIT = 2_000_000


@pytest.mark.soak
def test_sixty_days_in_one_process_hold_what_the_tenth_did(tmp_path: Path) -> None:
    driver = measure(generate(7, LAST + 1), tmp_path, (FIRST, LAST))
    held = driver.held()
    grew = held[LAST] - held[FIRST]
    print(f"held at day {FIRST}: {held[FIRST]:,} B, at day {LAST}: {held[LAST]:,} B (+{grew:,})")
    top = "\n".join(str(stat) for stat in driver.snapshots[LAST].compare_to(driver.snapshots[FIRST], "lineno")[:10])
    assert grew < GROWTH_LIMIT, f"held {held[FIRST]:,} B at day {FIRST}, {held[LAST]:,} B at day {LAST}:\n{top}"
