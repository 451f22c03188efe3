"""Plugin discovery through entry points: the one way connectors and notifiers are found."""

from __future__ import annotations

from collections.abc import Collection
from importlib.metadata import entry_points
from typing import TypeVar

T = TypeVar("T")


def plugin_names(group: str) -> set[str]:
    """The kinds registered under ``group``, without importing any of them."""
    return {entry.name for entry in entry_points(group=group)}


def discover(group: str, base: type[T], names: Collection[str] | None = None) -> dict[str, type[T]]:
    """Every entry point of ``group`` (or only ``names``: importing a kind can cost a second
    of CPU, e.g. boto3 or sqlglot), checked to be a ``base`` subclass, sorted by name."""
    found: dict[str, type[T]] = {}
    for entry in entry_points(group=group):
        if names is not None and entry.name not in names:
            continue
        cls = entry.load()
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise TypeError(f"entry point {entry.name} = {entry.value} is not a {base.__name__} subclass")
        found[entry.name] = cls
    return dict(sorted(found.items()))
