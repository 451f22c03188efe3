"""Notifier kinds, discovered through the ``clinicsync.notifiers`` entry-point group: a
third-party notifier needs no change to clinicsync."""

from __future__ import annotations

from functools import cache
from typing import Any

from clinicsync.common.plugins import discover
from clinicsync.notifiers.base import Notifier, NotifierSettings

GROUP = "clinicsync.notifiers"


@cache
def notifier_kinds() -> dict[str, type[Notifier]]:
    return discover(GROUP, Notifier)


def build_notifier(settings: NotifierSettings, context: dict[str, Any] | None = None) -> Notifier:
    return notifier_kinds()[settings.kind](settings, context)
