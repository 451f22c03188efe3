"""Plugin discovery through entry points: the one way connectors and notifiers are found."""

from __future__ import annotations

import os
import sys
from collections.abc import Collection
from functools import lru_cache
from typing import Any, TypeVar

from clinicsync.common.entry_point_cache import installed_key, keep, kept

T = TypeVar("T")


_ON_DISK = [False]


def keep_on_disk() -> None:
    """Let this process keep the scan in a file between starts (common/entry_point_cache.py):
    the command line's entry turns it on; a library user (a test, an embedding) reads the
    installed metadata each time, as before, and writes nothing."""
    _ON_DISK[0] = True


@lru_cache(maxsize=4)
def _scan(path: tuple[str, ...]) -> tuple[Any, ...]:
    """Every entry point installed on ``path``: one scan of all distributions' metadata per
    process (each ``entry_points(group=…)`` call scans them all again, ~20 ms apiece, and
    loading settings asks five times), or none when the scan kept from an earlier start still
    holds (entry_point_cache.py's key: the installed distributions). Keyed by sys.path, so a
    distribution put on the path later (a test's plugin) is found."""
    key = installed_key(path) if _ON_DISK[0] else None
    if key is not None and (found := kept(key)) is not None:
        return tuple(found)
    from importlib.metadata import entry_points  # on use: a kept scan needs none of it

    scanned: Any = entry_points()
    # Python 3.12: every entry point in one tuple. 3.11: a dict of them by group (its own views
    # warn of their deprecation), each group in the scan's order, which is all a select keeps.
    entries = tuple(scanned) if isinstance(scanned, tuple) else tuple(
        entry for group in dict.values(scanned) for entry in group)
    if key is not None:
        keep(key, entries)
    return entries


@lru_cache(maxsize=16)
def _selected(path: tuple[str, ...], group: str) -> tuple[Any, ...]:
    """One group of the scan, selected once: selecting every group of every distribution (a
    few hundred entry points) to find two cost more than reading them (~15 ms a start)."""
    return tuple(entry for entry in _scan(path) if entry.group == group)


def _group(group: str) -> tuple[Any, ...]:
    return _selected(tuple(sys.path), group)


def plugin_names(group: str) -> set[str]:
    """The kinds registered under ``group``, without importing any of them."""
    return {entry.name for entry in _group(group)}


PYDANTIC_GROUP = "pydantic"  # pydantic's own plugin entry points (pydantic.plugin)


def quiet_pydantic_plugins() -> None:
    """Tell pydantic there are no plugins to look for when this process's one scan found none.

    pydantic looks for its plugins on the first model it builds by an ``entry_points(group=…)``
    of its own, another read of every distribution's metadata (~5 ms of CPU a start);
    with none installed (none ships with clinicsync), ``PYDANTIC_DISABLE_PLUGINS`` says so and
    pydantic finds the same nothing without reading. A plugin that is installed is left to
    pydantic, as before; an explicit setting of the variable is kept."""
    if "PYDANTIC_DISABLE_PLUGINS" not in os.environ and not _group(PYDANTIC_GROUP):
        os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"


def discover(group: str, base: type[T], names: Collection[str] | None = None) -> dict[str, type[T]]:
    """Every entry point of ``group`` (or only ``names``: importing a kind can cost a second
    of CPU, e.g. boto3 or sqlglot), checked to be a ``base`` subclass, sorted by name."""
    found: dict[str, type[T]] = {}
    for entry in _group(group):
        if names is not None and entry.name not in names:
            continue
        cls = entry.load()
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise TypeError(f"entry point {entry.name} = {entry.value} is not a {base.__name__} subclass")
        found[entry.name] = cls
    return dict(sorted(found.items()))
