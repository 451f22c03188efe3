"""Can each configured notifier reach its provider? (``clinicsync check``)

Each one is tried with its own real client and its own settings, doing nothing a patient
could see: SMTP connects, says EHLO, STARTTLS and logs in as a send would, then quits;
Twilio fetches its own account; SendGrid lists its key's scopes; AWS reads the opt-out
state of no one (SNS ``GetSMSAttributes``, End User Messaging ``DescribeAccountAttributes``).
A failure names the notifier and the provider's refusal, never a secret. And reminders
planned on channels no notifier sends (``unsent_channels``): skipped, every one.
"""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from clinicsync.notifiers.base import Notifier, NotifierError, NotifierSettings
from clinicsync.notifiers.registry import build_notifier
from clinicsync.sync.config.settings import Settings

DRY_RUN_KINDS = frozenset({"outbox"})


@dataclass(frozen=True)
class NotifierCheck:
    notifier: str
    kind: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"notifier": self.notifier, "kind": self.kind, "ok": self.ok, "detail": self.detail}


def _smtp(notifier: Any) -> str:
    from clinicsync.notifiers.smtp import _quit, classify

    try:
        connection = notifier._connect()  # the send path's own connect, EHLO, STARTTLS and login
    except (smtplib.SMTPException, OSError) as exc:
        raise classify(exc) from None
    _quit(connection)
    s = notifier.settings
    return f"SMTP {s.host}:{s.effective_port} answered EHLO ({s.security}" + (
        ", logged in)" if s.username else ")")


def _twilio(notifier: Any) -> str:
    from twilio.base.exceptions import TwilioRestException

    from clinicsync.notifiers.twilio_base import classify

    try:
        account = notifier._client.api.v2010.accounts(notifier.settings.account_sid).fetch()
    except TwilioRestException as exc:
        raise classify(exc) from None
    except OSError as exc:
        raise NotifierError(f"could not reach Twilio ({type(exc).__name__})") from None
    return f"Twilio account reached (status {account.status})"


def _sendgrid(notifier: Any) -> str:
    from python_http_client.exceptions import HTTPError

    try:
        response = notifier._client.client.scopes.get()
    except HTTPError as exc:
        raise NotifierError(f"SendGrid refused the API key (HTTP {exc.status_code})") from None
    except OSError as exc:
        raise NotifierError(f"could not reach SendGrid ({type(exc).__name__})") from None
    if "mail.send" not in response.body.decode("utf-8", "replace"):
        raise NotifierError("the SendGrid API key lacks the mail.send scope")
    return "SendGrid API key accepted (mail.send)"


def _aws(notifier: Any) -> str:
    from clinicsync.notifiers.aws_sms import classify, classify_transport

    client, s = notifier._client, notifier.settings
    try:
        if s.api == "sns":
            client.get_sms_attributes(attributes=["DefaultSMSType"])
        else:
            client.describe_account_attributes()
    except botocore.exceptions.ClientError as exc:
        raise classify(exc) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise classify_transport(exc) from None
    return f"AWS {'SNS' if s.api == 'sns' else 'End User Messaging SMS'} in {s.region} accepted the credentials"


PROBES = {"smtp": _smtp, "twilio_sms": _twilio, "twilio_whatsapp": _twilio, "sendgrid": _sendgrid,
          "aws_sms": _aws}


def check_notifier(config: NotifierSettings, defaulted: bool = False) -> NotifierCheck:
    """``defaulted``: the settings name no notifiers, so this is the default dry-run outbox."""
    if config.kind in DRY_RUN_KINDS:
        folder = getattr(config, "directory", None)
        where = f" under {folder}" if folder is not None else ""
        why = "the default (the settings name no notifiers): " if defaulted else ""
        return NotifierCheck(config.name, config.kind, True,
                             f"dry run, {why}messages are written as files{where}, none reaches a patient; "
                             "a real channel is a notifier in notifiers: (docs/notifiers.md)")
    probe = PROBES.get(config.kind)
    if probe is None:
        return NotifierCheck(config.name, config.kind, True, "no reachability probe for this kind")
    notifier: Notifier | None = None
    try:
        notifier = build_notifier(config)
        return NotifierCheck(config.name, config.kind, True, probe(notifier))
    except NotifierError as exc:
        return NotifierCheck(config.name, config.kind, False, str(exc))
    except Exception as exc:  # the diagnosis command reports, it does not crash
        return NotifierCheck(config.name, config.kind, False, f"{type(exc).__name__}")
    finally:
        if notifier is not None:
            notifier.close()


def unsent_channels(settings: Settings, routes: Mapping[str, str]) -> list[tuple[str, str]]:
    """Reminders planned on channels no notifier sends, as (level, message): ``routes`` is the
    channel -> notifier table the reminder dispatch resolves (sync/reminders/dispatch.py
    ``resolve_routes``; passed in, this module sits below the reminders). Without a notifier
    every reminder is planned and then skipped "no reachable channel": the message names the
    key to add and what to add. A warning, not a failure: nothing wrong is sent."""
    config = settings.reminders
    if not config.enabled:
        return []
    planned = [c for c in config.channels if c != "none"]
    unsent = [c for c in planned if c not in routes]
    if not unsent:
        return []
    example = "`- {name: outbox, kind: outbox, directory: .clinicsync/outbox}` writes each message as a file"
    if not settings.notifiers:
        return [("warning", f"reminders are planned (reminders.enabled; reminders.channels: {', '.join(planned)}) but "
                            "the settings name no notifier (`notifiers: []`; without the key the dry-run outbox "
                            "would write them as files), so no notifier can send them: every reminder would "
                            "be skipped 'no reachable channel'. Add one under `notifiers:` — "
                            f"{example} (a dry run), or a provider (docs/notifiers.md)")]
    kinds = ", ".join(f"{n.name} ({n.kind})" for n in settings.notifiers)
    if len(unsent) == len(planned):
        return [("warning", f"reminders are planned on {', '.join(planned)} (reminders.channels) but no notifier "
                            f"under `notifiers:` sends them ({kinds}): every reminder would be skipped 'no reachable "
                            "channel'. Add a notifier for one of those channels (docs/notifiers.md), or list the "
                            "channels it sends in reminders.channels")]
    return [("warning", f"reminders.channels lists {', '.join(unsent)}, which no notifier under `notifiers:` sends "
                        f"({kinds}): those patients get the next channel they can be reached on, or none. Add a "
                        "notifier for it, or take it out of reminders.channels")]
