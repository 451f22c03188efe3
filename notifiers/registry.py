"""Notifier kinds, discovered through the ``clinicsync.notifiers`` entry-point group: a
third-party notifier needs no change to clinicsync."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

from notifiers.base import Notifier, NotifierSettings

GROUP = "clinicsync.notifiers"


@cache
def notifier_kinds() -> dict[str, type[Notifier]]:
    kinds: dict[str, type[Notifier]] = {}
    for entry in entry_points(group=GROUP):
        cls = entry.load()
        if not (isinstance(cls, type) and issubclass(cls, Notifier)):
            raise TypeError(f"entry point {entry.name} = {entry.value} is not a Notifier subclass")
        kinds[entry.name] = cls
    return dict(sorted(kinds.items()))


def build_notifier(settings: NotifierSettings, context: dict[str, Any] | None = None) -> Notifier:
    return notifier_kinds()[settings.kind](settings, context)
