"""Can each configured notifier reach its provider? (``clinicsync check``)

Each one is tried with its own real client and its own settings, doing nothing a patient
could see: SMTP connects, says EHLO, STARTTLS and logs in as a send would, then quits;
Twilio fetches its own account; SendGrid lists its key's scopes; AWS reads the opt-out
state of no one (SNS ``GetSMSAttributes``, End User Messaging ``DescribeAccountAttributes``).
A failure names the notifier and the provider's refusal, never a secret.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from clinicsync.notifiers.base import Notifier, NotifierError, NotifierSettings
from clinicsync.notifiers.registry import build_notifier

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
