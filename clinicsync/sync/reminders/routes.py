"""What the routes (sync/config/routes.py: which notifier sends each channel) mean for a run: the
channels whose messages only go to a dry-run outbox, and a route `config validate` refuses."""

from __future__ import annotations

from clinicsync.notifiers.outbox import OutboxSettings
from clinicsync.sync.config.routes import RoutingError, resolve_routes
from clinicsync.sync.config.settings import Settings


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
