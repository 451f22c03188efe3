"""structlog setup: console on a terminal, JSON lines otherwise, and a redaction
processor so that no patient data and no secret reaches a log at default level."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import ipaddress
import logging
import re
import sys
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from types import ModuleType
from typing import Any, TextIO, cast
from zoneinfo import ZoneInfo

# Keys whose values are PHI or secrets wherever they appear in an event.
SENSITIVE_KEYS = frozenset({
    "name", "patient", "patient_name", "first_name", "last_name", "phone", "patient_phone", "mobile",
    "email", "patient_email", "to", "from_", "recipient", "address", "body", "text", "dob", "birth_date",
    "birthdate", "raw", "row", "record", "password", "secret", "token", "api_key", "auth_token",
    "authorization", "private_key", "client_secret", "access_token",
    # a telehealth join link opens the patient's visit: as private as their phone number
    "join_url", "provider_join_url", "join_link", "meeting_url", "dial_in",
})
# Keys whose values are codes a source sends (an HL7 trigger, a webhook's event name): logged
# as they are when they have a code's shape, else described — a shifted field or a hostile
# sender can put a patient's name there, and no reason or log line may carry one.
CODE_KEYS = frozenset({"trigger"})
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.^:-]{0,63}")
_NOT_A_CODE = re.compile(r"[A-Z][a-z]+|.*\d{4}.*")  # a capitalized word (a name), a run of 4 digits
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w/])\+?\d[\d ().-]{7,}\d(?![\w/])")
_BEARER = re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
REDACTED = "[redacted]"


_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def _phone_or_address(match: re.Match[str]) -> str:
    """A dotted IPv4 address (four parts, each 0-255) is kept: it names a peer, not a patient,
    and `peer [redacted]` tells IT nothing. Anything else phone-shaped is masked."""
    text = match.group(0)
    if _IPV4.fullmatch(text):
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            return REDACTED
        return text
    return REDACTED


_URL = re.compile(r"(?i)\b(https?://[^/\s?#\"'<>]+)([^\s\"'<>]*)")
# Query parameters that carry a secret: a meeting passcode, a token, a signature.
_SECRET_PARAM = re.compile(r"(?i)([?&](?:tk|token|access_token|pwd|passcode|password|pin|key|sig|signature|"
                           r"code|jwt|secret|auth|session|sessionkey|s)=)[^&#\s]*")
# What a telehealth join link looks like: its path names the meeting, so it goes.
_MEETING = re.compile(r"(?i)zoom|teams|meet|webex|whereby|doxy|vidyo|telehealth|telemed|virtual|video|"
                      r"/j/|/join|/room|/visit|/call|meetup-join")


def _url(match: re.Match[str]) -> str:
    """A URL with its secrets masked: a join link loses its path and query (they name the
    visit's room), any other URL only the values of secret-looking query parameters."""
    origin, rest = match.group(1), match.group(2)
    if rest and _MEETING.search(match.group(0)):
        return f"{origin}/{REDACTED}"
    return origin + _SECRET_PARAM.sub(r"\1" + REDACTED, rest)


def scrub_text(text: str) -> str:
    """Mask what looks like an email, a phone number, a credential or a join link inside free text."""
    if "://" in text:
        text = _URL.sub(_url, text)
    text = _EMAIL.sub(REDACTED, text)
    text = _BEARER.sub(r"\1 " + REDACTED, text)
    return _PHONE.sub(_phone_or_address, text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {k: (REDACTED if str(k).lower() in SENSITIVE_KEYS else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def as_code(value: Any) -> Any:
    """A code as it is (`S12`, `SIU^S12`, `BOOKING_CREATED`, `appointment_save`); anything
    else described by its length, never shown."""
    if not isinstance(value, str) or (_CODE.fullmatch(value) and not _NOT_A_CODE.fullmatch(value)):
        return value
    return f"(not a code: {len(value)} characters)"


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key.lower() in SENSITIVE_KEYS:
            event[key] = REDACTED
        elif key.lower() in CODE_KEYS:
            event[key] = as_code(event[key])
        elif key not in ("timestamp", "level", "logger"):
            event[key] = _scrub(event[key])
    return event


class _CurrentStderr:
    """Writes to whatever sys.stderr is at the time of writing, not when logging was set up
    (a test runner that swaps and closes stderr must not break later log lines)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def _clock_in(zone_name: str) -> Any:
    """A console line's time in the clinic's zone, as the CLI's tables show times
    (UTC log lines between local-time rows read as two different clocks)."""
    zone = ZoneInfo(zone_name)

    def stamp(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event["timestamp"] = datetime.now(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
        return event

    return stamp


def configure_logging(level: str = "info", fmt: str = "auto", stream: TextIO | None = None,
                      zone: str | None = None) -> None:
    """JSON lines (UTC timestamps) for machines; on a console, ``zone``'s clock when given.

    structlog (with the asyncio it imports, ~70 ms of each start before rich's formatters were
    hidden from it: _without_rich_formatters) is configured when it is first imported, by
    whichever module imports it: a command that never logs (`status`) does not
    load it, so it starts faster. Already imported, it is configured at once, as before."""
    out = stream or cast(TextIO, _CurrentStderr())
    if "structlog" in sys.modules:
        _configure(level, fmt, out, zone)
        return
    _ConfigureOnImport.pending = (level, fmt, out, zone)
    _watch_structlogs_import()


def _watch_structlogs_import() -> None:
    """Put _ConfigureOnImport first on the import path, once, while structlog is not imported."""
    if "structlog" not in sys.modules and not any(isinstance(f, _ConfigureOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _ConfigureOnImport())


class _ConfigureOnImport(importlib.abc.MetaPathFinder):
    """Applies the last configure_logging() as structlog's import completes, before the module
    that imported it can log: every way in (``import structlog`` anywhere, get_logger) is
    configured as if configure_logging had run after it. Watching from this module's import on
    (not only from configure_logging's), it also keeps rich's formatters out of structlog's
    import when structlog comes first: loading the settings imports a SQL source's connector,
    which imports structlog before the CLI configures logging."""

    pending: tuple[str, str, TextIO, str | None] | None = None

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "structlog":
            return None
        sys.meta_path.remove(self)  # once: the other finders (site-packages, an editable install) find it
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenConfigure(spec.loader)
        return spec


class _ThenConfigure(importlib.abc.Loader):
    """structlog's own loader, then the pending configuration."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return cast(ModuleType | None, self.inner.create_module(spec))

    def exec_module(self, module: ModuleType) -> None:
        with _without_rich_formatters():
            self.inner.exec_module(module)
        pending, _ConfigureOnImport.pending = _ConfigureOnImport.pending, None
        if pending is not None:
            _configure(*pending)

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, …: the real loader's
        return getattr(self.inner, name)


# What structlog imports only to offer as exception formatters: rich's traceback (with pygments)
# and rich's pretty-printer (with attrs), ~110 M instructions of an idle `sync --once`.
# The chain _configure builds never calls them: format_exc_info turns every exception into plain
# text before the renderer sees it, so a console line and a JSON line read the same without them.
_RICH_FORMATTERS = ("rich.console", "rich.traceback", "rich.pretty")  # the console too: structlog.dev
# imports it beside the traceback, for the formatters alone; the CLI draws with its own (cli/terminal.py)


@contextmanager
def _without_rich_formatters() -> Iterator[None]:
    """structlog's import, with rich's formatters looking absent: structlog then offers its
    plain ones (structlog.dev's ``rich = None`` branch, as without rich installed). Only for
    the import: rich itself stays importable (the CLI's tables, typer's help)."""
    hidden = [name for name in _RICH_FORMATTERS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import's "not found" mark
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def _configure(level: str, fmt: str, out: TextIO, zone: str | None) -> None:
    import structlog

    numeric = getattr(logging, level.upper(), logging.INFO)
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    stamper: Any = (_clock_in(zone) if use_console and zone
                    else structlog.processors.TimeStamper(fmt="iso", utc=True))
    renderer: Any = (structlog.dev.ConsoleRenderer(colors=out.isatty()) if use_console
                     else structlog.processors.JSONRenderer())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamper,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


class _LazyLogger:
    """structlog.get_logger(name), imported on the first call: a module of `status`'s path
    keeps a module-level ``log`` without loading structlog until it logs."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, attribute: str) -> Any:
        if self._logger is None:
            import structlog

            self._logger = structlog.get_logger(self._name)
        return getattr(self._logger, attribute)


def get_logger(name: str) -> Any:
    return _LazyLogger(name)


@cache
def _filtering_levels() -> dict[Any, int]:
    """structlog's level-filtering wrapper classes (one per level, the same object on every
    call of make_filtering_bound_logger) and the level each lets through."""
    import structlog

    return {structlog.make_filtering_bound_logger(level): level for level in (0, 10, 20, 30, 40, 50)}


def emits(level: int) -> bool:
    """Whether an event at ``level`` would be written under structlog's configuration now:
    False only under a level-filtering wrapper that drops it. A hot path asks first and skips
    assembling an event nobody reads — with ``cache_logger_on_first_use`` off, each call on a
    module-level logger builds a bound logger before the level drops it (two per
    push request). Any other wrapper class: True, the event is built and the wrapper decides."""
    import structlog

    threshold = _filtering_levels().get(structlog.get_config()["wrapper_class"])
    return threshold is None or level >= threshold


_watch_structlogs_import()  # see _ConfigureOnImport
