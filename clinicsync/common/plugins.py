"""Plugin discovery through entry points: the one way connectors and notifiers are found."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TypeVar

T = TypeVar("T")


def discover(group: str, base: type[T]) -> dict[str, type[T]]:
    """Every entry point of ``group``, checked to be a ``base`` subclass, sorted by name."""
    found: dict[str, type[T]] = {}
    for entry in entry_points(group=group):
        cls = entry.load()
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise TypeError(f"entry point {entry.name} = {entry.value} is not a {base.__name__} subclass")
        found[entry.name] = cls
    return dict(sorted(found.items()))
