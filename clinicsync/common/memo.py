"""One rule for the bounded memos of a run's hot paths (rendered lines, escaped text, per-value
checks): a dict that is emptied when full, not an LRU. A run's values repeat in bursts (a
practice's places, a day's slots), so starting over costs one miss per value still in use,
while an LRU's bookkeeping would cost every hit. Callers look up with ``dict.get`` themselves
(the hit stays one C call) and hand only a miss to :func:`kept`."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def kept(memo: dict[K, V], key: K, value: V, limit: int) -> V:
    """``value``, stored under ``key`` in ``memo``, which is emptied first if it holds ``limit``."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value
