"""Which notifier sends each channel: the configured ``reminders.routes``, else the first
notifier that handles the channel. Read by the dispatcher, `config validate` and `remind`'s
dry-run note, apart from the sending itself."""

from __future__ import annotations

from clinicsync.notifiers.base import CHANNELS
from clinicsync.notifiers.outbox import OutboxSettings
from clinicsync.notifiers.registry import notifier_kinds
from clinicsync.sync.config.settings import Settings


class RoutingError(ValueError):
    """A route names no notifier, or a channel has nowhere to go (a settings problem)."""


def resolve_routes(settings: Settings) -> dict[str, str]:
    """channel -> notifier name: the configured routes, else the first notifier handling the channel."""
    kinds = notifier_kinds()
    by_name = {n.name: n for n in settings.notifiers}
    routes: dict[str, str] = {}
    for channel, name in settings.reminders.routes.items():
        if name not in by_name:
            raise RoutingError(f"reminders.routes.{channel}: no notifier named {name!r} "
                               f"(known: {sorted(by_name) or 'none'})")
        if channel not in kinds[by_name[name].kind].channels:
            raise RoutingError(f"reminders.routes.{channel}: notifier {name!r} ({by_name[name].kind}) "
                               f"does not send {channel}")
        routes[channel] = name
    for channel in CHANNELS:
        if channel not in routes:
            for notifier in settings.notifiers:
                if channel in kinds[notifier.kind].channels:
                    routes[channel] = notifier.name
                    break
    return routes


def outbox_routes(settings: Settings) -> dict[str, str]:
    """channel -> folder, for the channels whose messages go to a dry-run outbox (written as
    files, never sent): said by `remind` and its log line, so that nobody believes a patient
    was reached (a settings file without `notifiers:` has the outbox alone)."""
    by_name = {n.name: n for n in settings.notifiers}
    try:
        routes = resolve_routes(settings)
    except RoutingError:
        return {}
    return {channel: str(config.directory) for channel, name in sorted(routes.items())
            if isinstance(config := by_name[name], OutboxSettings)}


def routing_problems(settings: Settings) -> list[str]:
    """`resolve_routes`'s refusal, for `config validate`: a route left naming a notifier that
    was renamed or removed, or one that does not send the channel."""
    try:
        resolve_routes(settings)
    except RoutingError as exc:
        return [str(exc)]
    return []
