"""Do the messages promise a reply nobody can receive? (``clinicsync check``)

A patient message that says "Reply C to confirm" needs a way back: for SMS and WhatsApp
a Twilio notifier for that channel, or an ``aws_sms`` notifier with ``inbound_topic_arns``
(two-way SMS through SNS), and ``clinicsync serve`` (``server:``) to receive it, with
``responses.enabled``; email replies are never read, so an email
must carry answer links (``server.public_url`` + ``server.secret_key``, or
``reminders.confirm_url``) instead. A prompt on a channel that really sends is an error;
on the dry-run ``outbox`` it is a warning (nobody is misled yet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clinicsync.notifiers.aws_sms import AwsSmsSettings
from clinicsync.notifiers.base import NotifierSettings
from clinicsync.notifiers.registry import notifier_kinds
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.compose import Draft, composer_for
from clinicsync.sync.reminders.dispatch import RoutingError, resolve_routes
from clinicsync.sync.reminders.render import Renderer, TemplateProblem
from clinicsync.sync.reminders.samples import sample_visit

# Words of a reply prompt in the shipped languages ("Reply C to confirm", "Responda C …").
PROMPT = re.compile(r"\b(reply|responda|responde|répondez|antworten)\b(?!\s+STOP\b)", re.IGNORECASE)
# ("Reply STOP to opt out" is the carrier keyword the SMS provider itself honours, not a reply we read.)
ASKING_KINDS = ("confirmation", "reminder", "rescheduled")
DRY_RUN_KINDS = frozenset({"outbox"})


@dataclass(frozen=True)
class ReplyProblem:
    level: str  # error | warning
    message: str


def _receives(settings: Settings, channel: str, notifier: NotifierSettings | None) -> bool:
    """Twilio's inbound webhook, or AWS's two-way SMS through an SNS topic the server accepts."""
    if channel not in ("sms", "whatsapp") or notifier is None:
        return False  # nothing reads email replies: emails answer through links
    inbound = notifier.kind.startswith("twilio") or (
        isinstance(notifier, AwsSmsSettings) and bool(notifier.inbound_topic_arns))
    return settings.responses.enabled and settings.server is not None and inbound


def _asking(settings: Settings, channel: str) -> list[str]:
    """'language/kind' of each patient message on ``channel`` whose text asks for a reply,
    rendered as the dispatcher would render it (composer_for): the clinic's templates, and
    each site's own folder ('site/language/kind')."""
    views: list[tuple[str, str | None]] = [("", None)]  # (label prefix, a source of the site)
    for key, site in settings.sites.items():
        sources = settings.connectors_of(key)
        if site.templates and sources:
            views.append((f"{key}/", sources[0]))
    found = []
    for prefix, connector in views:
        renderer = Renderer(settings.template_folders_for(connector))
        composer = composer_for(settings, renderer, connector)
        visit = sample_visit(composer.clinic_settings.timezone)
        for language in renderer.languages():
            for kind in ASKING_KINDS:
                draft = Draft(f"a1:patient:{kind}:v1", kind, "patient", language, visit=visit)
                try:
                    rendered = composer.render(draft, channel, visit.start)
                except TemplateProblem:
                    continue  # `templates check` reports broken templates
                if rendered.language == language and PROMPT.search(rendered.text or ""):
                    found.append(f"{prefix}{language}/{kind}")
    return found


def reply_problems(settings: Settings) -> list[ReplyProblem]:
    """A problem per patient channel whose messages ask for a reply that cannot arrive."""
    if not settings.reminders.enabled:
        return []
    try:
        routes = resolve_routes(settings)
    except RoutingError:
        return []  # reported by the dispatcher and `config validate`
    by_name = {n.name: n for n in settings.notifiers}
    problems = []
    for channel in settings.reminders.channels:
        notifier = by_name.get(routes.get(channel, ""))
        notifier_kind = notifier.kind if notifier else "outbox"  # unrouted: the embedded dry run
        if notifier_kind not in notifier_kinds() or _receives(settings, channel, notifier):
            continue
        asking = _asking(settings, channel)
        if not asking:
            continue
        way = ("configure a Twilio notifier for it and `server:` (run `clinicsync serve`, with the Twilio "
               "number's webhook pointing at it)" if channel in ("sms", "whatsapp")
               else "set server.public_url and server.secret_key so emails carry answer links")
        level = "warning" if notifier_kind in DRY_RUN_KINDS else "error"
        problems.append(ReplyProblem(level, f"{channel} messages ({', '.join(asking)}) ask the patient to reply, "
                                            f"but nothing receives {channel} replies: {way}, or drop the "
                                            "request from the templates"))
    return problems
