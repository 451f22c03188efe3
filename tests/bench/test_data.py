"""bench/data.py's exports are fixed by their seed: the figures of one stop are compared with
the last stop's on the same bytes. Pinned here as sha256 digests of exports written before the
patient pool was memoized, cold (pool drawn afresh) and warm (drawn earlier in the process)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bench import data

# (count, seed, changed, doctors) -> sha256 of the export, as bench/data.py wrote it at e8b7906.
PINNED = {
    (200, 1, 0.0, 50): "220b7b264102ad1d42b6ed432d5a968f0d97b1580f82f880bffbd9eb6cce00ba",
    (200, 1, 0.01, 50): "f1562debbba6c8250356ec9fc94e115dbc8eb6f8771930e5bbb86c042a269675",
    (1000, 7, 0.05, 50): "0b586bb176d69f98d61114356e76b8af8d5d3bc585771490ba7f5cac1cc14017",
}


def _digest(path: Path, count: int, seed: int, changed: float, doctors: int) -> str:
    data.write_export(path, count, seed, changed, doctors=doctors)
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_exports_are_the_same_bytes_as_before_the_pool_was_memoized(tmp_path: Path, warm: bool) -> None:
    for (count, seed, changed, doctors), expected in PINNED.items():
        if not warm:
            data._pool_draws.cache_clear()
        else:
            data._pool_draws(seed)
        assert _digest(tmp_path / "export.csv", count, seed, changed, doctors) == expected, (count, seed, changed)
