"""Email through any SMTP server (smtplib): STARTTLS or implicit TLS, optional auth.

Connections are reused through a small idle pool, so a batch of reminders does not pay a
TLS handshake per message, and each concurrent send holds its own connection; an idle
connection the server has closed is replaced before anything is sent on it. Replies are
classified: 4xx and connection faults retry, 5xx refusals are permanent. ``send_deadline``
(notifiers/base.py ``Notifier.deliver``) bounds a whole send, connect included: a server that
sends one byte every 2 s never trips ``timeout``, which is per read.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from clinicsync.common.deadline import claim
from clinicsync.common.logs import scrub_text
from clinicsync.common.settings_base import resolve_path
from clinicsync.notifiers.base import (
    AccountError,
    DeliveryUnknownError,
    Message,
    Notifier,
    NotifierError,
    NotifierSettings,
    PermanentError,
    Receipt,
    RetryableError,
)
from clinicsync.notifiers.fields import EmailAddress
from clinicsync.notifiers.mime import build_email

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


class SmtpSettings(NotifierSettings):
    kind: Literal["smtp"] = "smtp"
    host: str = Field(min_length=1, description="SMTP server host name")
    port: int | None = Field(None, ge=1, le=65535, description="default: 587 starttls, 465 ssl, 25 none")
    security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="starttls (required, never falls back to clear text), ssl (implicit TLS), none")
    username: str | None = None
    password: SecretStr | None = Field(None, description="use ${SMTP_PASSWORD} or password_file:")
    sender: EmailAddress = Field(description="From:, e.g. 'Demo Clinic <reminders@clinic.example>'")
    reply_to: EmailAddress | None = None
    ca_file: Path | None = Field(None, description="PEM bundle to verify the server with (default: system CAs)")
    timeout: float = Field(30.0, gt=0, le=600, description="seconds to wait for each read of an SMTP reply (a "
                                                           "server that trickles its answer is ended by "
                                                           "send_deadline, over the whole send)")
    max_idle_connections: int = Field(4, ge=0, le=64, description="connections kept open between sends")

    @field_validator("ca_file")
    @classmethod
    def _relative(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else resolve_path(value, info)

    @model_validator(mode="after")
    def _auth(self) -> SmtpSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password (or password_file), or neither")
        if self.username is not None and self.security == "none":
            raise ValueError("a password is never sent in clear text: use security starttls or ssl")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]


def _by_code(code: int, what: str, text: bytes | str = b"", account: bool = False) -> NotifierError:
    """``account``: a refusal of the clinic's login or sender, which every message meets alike
    (notifiers/base.py ``AccountError``); so is 530, authentication required."""
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    reason = f"{what}: SMTP {code} {scrub_text(said)[:200]}".rstrip()
    if account or code == 530:
        return AccountError(reason)
    if 400 <= code < 500:
        return RetryableError(reason)
    return PermanentError(reason)


def classify(exc: Exception, data_sent: bool = False) -> NotifierError:
    """An smtplib or socket error as a classified NotifierError, without the address.

    ``data_sent``: the message content was already handed over when the error came, so a
    dropped connection or a timeout leaves it unknown whether the server took it.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (550, b""))
        return _by_code(code, "the server refused the recipient", text)
    if isinstance(exc, smtplib.SMTPSenderRefused):  # the clinic's sender, not the patient: the account's
        return _by_code(exc.smtp_code, "the server refused the sender (check sender)", exc.smtp_error, account=True)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _by_code(exc.smtp_code, "authentication failed (check username and password)", exc.smtp_error,
                        account=True)
    if isinstance(exc, smtplib.SMTPDataError):
        return _by_code(exc.smtp_code, "the server refused the message", exc.smtp_error)
    if isinstance(exc, smtplib.SMTPConnectError):
        return RetryableError(f"could not connect to the SMTP server: SMTP {exc.smtp_code}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, "the SMTP server answered with an error", exc.smtp_error)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentError(f"the SMTP server does not support what this message needs: {scrub_text(str(exc))}")
    if data_sent:
        return DeliveryUnknownError(f"the SMTP connection failed after the message was sent ({type(exc).__name__}); "
                                    "the server may have accepted it")
    # SMTPServerDisconnected, timeouts, refused connections, TLS failures.
    return RetryableError(f"could not talk to the SMTP server ({type(exc).__name__})")


class _Connection(smtplib.SMTP):
    """Remembers whether the content began to go out (the server answered DATA with 354),
    which tells a refused or never-sent message from an unknown one: a connection lost at
    the DATA command itself sent nothing and is safe to retry."""

    data_started = False
    reused = False

    def getreply(self) -> tuple[int, bytes]:
        code, text = super().getreply()
        if not 100 <= code <= 599:  # a reply cut short (the send deadline shut the socket mid-line: "2")
            self.close()
            raise smtplib.SMTPServerDisconnected("the SMTP reply was cut short")
        if code == 354:  # only DATA is answered so; smtplib sends the content next
            self.data_started = True
        return code, text


class _SslConnection(_Connection, smtplib.SMTP_SSL):
    pass


class SmtpNotifier(Notifier):
    kind = "smtp"
    channels = frozenset({"email"})
    settings_model = SmtpSettings
    settings: SmtpSettings
    claims_reused_sockets = True  # _checkout claims a pooled connection for the send taking it

    def __init__(self, settings: NotifierSettings, context: dict[str, Any] | None = None) -> None:
        super().__init__(settings, context)
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

    def _tls_context(self) -> ssl.SSLContext:
        """Built once: loading the CA bundle costs more than an SMTP round trip."""
        if self._tls is None:
            ca_file = self.settings.ca_file
            self._tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        return self._tls

    def send(self, message: Message) -> Receipt:
        if message.channel != "email":
            raise PermanentError(f"the smtp notifier sends email, not {message.channel}")
        email = build_email(message, message.sender or self.settings.sender, self.settings.reply_to)
        reuse = True
        while True:
            connection: _Connection | None = None
            try:
                connection = self._checkout() if reuse else self._connect()
                connection.data_started = False
                connection.send_message(email, to_addrs=[message.recipient])
                break
            except (smtplib.SMTPException, OSError) as exc:
                if connection is None:
                    raise classify(exc) from None
                _quit(connection)
                if connection.reused and not connection.data_started and _hung_up(exc):
                    reuse = False  # the server had closed this idle connection; nothing was sent
                    continue
                raise classify(exc, data_sent=connection.data_started) from None
            except BaseException:
                if connection is not None:
                    _quit(connection)
                raise
        self._checkin(connection)
        return Receipt(provider=self.kind, provider_id=str(email["Message-ID"]), status="sent")

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            _quit(connection)

    def _checkout(self) -> _Connection:
        """An idle connection, or a new one. No NOOP first: that would cost a round trip per
        message, and a connection the server has closed fails before anything is sent."""
        with self._lock:
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            return self._connect()
        connection.reused = True
        claim(connection.sock)  # this send's deadline, no other's, may now cut it
        return connection

    def _checkin(self, connection: _Connection) -> None:
        with self._lock:
            if len(self._idle) < self.settings.max_idle_connections:
                self._idle.append(connection)
                return
        _quit(connection)

    def _connect(self) -> _Connection:
        s = self.settings
        connection: _Connection
        if s.security == "ssl":
            connection = _SslConnection(s.host, s.effective_port, timeout=s.timeout, context=self._tls_context())
        else:
            connection = _Connection(s.host, s.effective_port, timeout=s.timeout)
        try:
            connection.ehlo()
            if s.security == "starttls":
                if not connection.has_extn("starttls"):
                    raise PermanentError("the SMTP server does not offer STARTTLS (security: starttls); "
                                         "nothing is sent in clear text")
                connection.starttls(context=self._tls_context())
                connection.ehlo()
            if s.username is not None and s.password is not None:
                connection.login(s.username, s.password.get_secret_value())
        except BaseException:
            _quit(connection)
            raise
        return connection


def _hung_up(exc: Exception) -> bool:
    """The server closed the connection (or said 421, closing) rather than refused anything."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    return isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError)


def _quit(connection: _Connection) -> None:
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        connection.close()
