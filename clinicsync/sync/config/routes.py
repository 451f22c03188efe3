"""Which notifier sends each channel: the configured ``reminders.routes``, else the first
notifier that handles the channel. A fact of the settings alone (no notifier is built), so it
lives with them: the dispatcher sends by it, and `check`'s plausibility counts a patient as
reachable only on a channel that has somewhere to go."""

from __future__ import annotations

from clinicsync.notifiers.base import CHANNELS
from clinicsync.notifiers.registry import notifier_kinds
from clinicsync.sync.config.settings import Settings

PHONE_CHANNELS = ("sms", "whatsapp")  # the channels that reach a patient's phone; the others their email


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
