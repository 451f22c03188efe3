"""Plugin discovery through entry points: the one way connectors and notifiers are found."""

from __future__ import annotations

import os
import sys
from collections.abc import Collection
from functools import lru_cache
from importlib.metadata import EntryPoints, entry_points
from typing import Any, TypeVar, cast

T = TypeVar("T")


@lru_cache(maxsize=4)
def _scan(path: tuple[str, ...]) -> Any:
    """Every entry point installed on ``path``: one scan of all distributions' metadata per
    process (each ``entry_points(group=…)`` call scans them all again, ~20 ms apiece, and
    loading settings asks five times). Keyed by sys.path, so a distribution
    put on the path later (a test's plugin) is found."""
    return entry_points()  # Python 3.11: SelectableGroups; 3.12: EntryPoints; both select(group=…)


@lru_cache(maxsize=16)
def _selected(path: tuple[str, ...], group: str) -> EntryPoints:
    """One group of the scan, selected once: selecting every group of every distribution (a
    few hundred entry points) to find two cost more than reading them (~15 ms a start)."""
    return cast(EntryPoints, _scan(path).select(group=group))


def _group(group: str) -> EntryPoints:
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
