"""What follows from one load of the settings, worked out once for that load.

`clinicsync run` polls each source on its own, hundreds of times an hour, on the same loaded
settings; a value that walks every source's settings (the zones in use: each source's site
merged over `clinic:`) cost each poll time in proportion to the number of sources, so a worker's
minute grew with the square of them. Settings are not changed in place once loaded: a change
(the settings watch, a fleet's list) is a new load, hence a new object, so such a value is
kept with the object it came from and dropped with it. Keyed by identity and checked by a weak
reference (a pydantic model is neither hashable nor compared by identity), so an id reused by a
later object is never taken for the old one's.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_VALUES: dict[tuple[int, str], tuple[weakref.ref[Any], Any]] = {}
_GUARD = threading.RLock()  # re-entrant: a weak reference's callback may run inside it (a collection)


def once_per_load(settings: Any, name: str, work: Callable[[Any], T]) -> T:
    """``work(settings)``, worked out at the first call for this settings object and ``name``,
    then the same value for as long as the object lives (the poll threads share it)."""
    key = (id(settings), name)
    with _GUARD:
        found = _VALUES.get(key)
    if found is not None and found[0]() is settings:
        value: T = found[1]
        return value
    value = work(settings)

    def forget(ref: weakref.ref[Any]) -> None:
        with _GUARD:
            if _VALUES.get(key, (None,))[0] is ref:
                del _VALUES[key]

    with _GUARD:
        _VALUES[key] = (weakref.ref(settings, forget), value)
    return value
