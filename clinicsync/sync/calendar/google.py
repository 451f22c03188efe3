"""Provider `google`: the Calendar API through google-api-python-client and google-auth.

A service account with domain-wide delegation acts as each doctor
(``credentials.with_subject(email)``, scope calendar.events only), so events land in
the doctor's own calendar; a shared calendar is written as the service account (or a
given user). Calls go out in batch requests of up to 50, filled across doctors: each call
in a batch carries its own user's token (Google lets a part's Authorization override the
outer request's), so 10,000 events take 200 batch requests however they are spread. A rate
limit (403 rateLimitExceeded/userRateLimitExceeded, 429) or a server error is retried with
exponential backoff and jitter (tenacity), never sooner than a Retry-After the answer
carries (up to retry.max_seconds), and calls per user are paced under the quota (the stage
spreads every user's calls over the batches). A user answered with Calendar's usage limit or
the daily quota (403 quotaExceeded, dailyLimitExceeded), or whose calls outlasted every
retry, is held for the rest of the run: their other calls fail unsent, for the next run.
Delegated credentials live for the process, so a long-running service reuses each
doctor's token until it expires instead of asking for a new one every run.
"""

from __future__ import annotations

import functools
import json
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import google_auth_httplib2
import httplib2
import structlog
from google.auth.exceptions import GoogleAuthError, TransportError
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest, HttpRequest
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from clinicsync.common.httplib2_deadline import DeadlineHttp
from clinicsync.common.retry_after import retry_after
from clinicsync.common.timeutil import iso_z, zone
from clinicsync.sync.calendar.provider import (
    PRIVATE_CONNECTOR,
    PRIVATE_EXTERNAL_ID,
    PRIVATE_HASH,
    PRIVATE_MARK,
    Op,
    OpKind,
    Outcome,
    RemoteEvent,
    Target,
)
from clinicsync.sync.config.settings.calendar import GoogleSettings

log = structlog.get_logger("clinicsync.calendar.google")
SCOPE = "https://www.googleapis.com/auth/calendar.events"
# From the discovery document (rootUrl + servicePath / batchPath). The client joins
# api_endpoint for normal calls but builds the batch URL from the document's root, so
# both are derived here from the one configured api_root.
SERVICE_PATH = "calendar/v3/"
BATCH_PATH = "batch/calendar/v3"
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# 403 (domain usageLimits) that backing off for seconds does not end: Calendar's usage limits
# (a user who created too many events in a short time, e.g. the first push after a switch to
# Google, loses write access for hours) and the project's daily quota. Not retried; the rest of
# that user's calls in this run are not sent either (:attr:`GoogleCalendar.held`).
USAGE_LIMIT_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
_MAX_HOPS = 3  # insert → 409 → update → 404 → insert … is a fight with someone else; stop


class _Again(Exception):
    """Some calls of this round hit a passing fault: back off, then send those again."""


def error_of(exc: HttpError) -> tuple[int, str]:
    """The status and Google's machine-readable reason (never the message: it may echo content)."""
    status = int(exc.resp.status)
    reason = ""
    try:
        data = json.loads(exc.content)
        error = data.get("error", {})
        errors = error.get("errors") or [{}]
        reason = str(errors[0].get("reason") or error.get("status") or "")
    except (ValueError, AttributeError, TypeError):
        pass
    return status, reason


def retryable(status: int, reason: str) -> bool:
    return status == 429 or status >= 500 or (status == 403 and reason in RATE_LIMIT_REASONS)


def _told_to_wait(exc: HttpError) -> float:
    """The answer's Retry-After in seconds (0 when it has none); batch parts carry their own headers."""
    headers = getattr(exc, "resp", None)
    return (retry_after(headers.get("retry-after")) or 0.0) if headers is not None else 0.0


def _retryable_exception(exc: BaseException) -> bool:
    if isinstance(exc, HttpError):
        return retryable(*error_of(exc))
    return isinstance(exc, httplib2.HttpLib2Error | OSError | TransportError)


class Pacer:
    """Keeps the calls made as one user under a per-minute quota (a sliding 60 s window)."""

    def __init__(self, per_minute: int, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.per_minute, self.clock, self.sleep = per_minute, clock, sleep
        self._sent: dict[str, deque[tuple[float, int]]] = defaultdict(deque)

    def wait(self, account: str, calls: int) -> None:
        window = self._sent[account]
        while True:
            now = self.clock()
            while window and window[0][0] <= now - 60:
                window.popleft()
            if not window or sum(n for _, n in window) + calls <= self.per_minute:
                break
            self.sleep(window[0][0] + 60 - now)
        window.append((self.clock(), calls))


@dataclass
class _Try:
    op: Op
    kind: OpKind
    hops: int = 0
    error: str | None = None


def event_body(op: Op, kind: OpKind) -> dict[str, Any]:
    content = op.content
    assert content is not None
    local = zone(content.timezone)
    body: dict[str, Any] = {
        "summary": content.summary,
        "description": content.description,
        # a video visit's place is its join link (also in conferenceData); a phone visit's says
        # who calls whom (EventContent.where); else the location
        "location": content.where or "",
        "start": {"dateTime": content.start.astimezone(local).isoformat(), "timeZone": content.timezone},
        "end": {"dateTime": content.end.astimezone(local).isoformat(), "timeZone": content.timezone},
        # also brings a deleted event back; a kept cancellation (mark_cancelled) stays visible as a
        # free event, so only a patient's cancellation the source still holds differs: tentative
        "status": "tentative" if content.status == "tentative" else "confirmed",
        "transparency": "transparent" if content.cancelled else "opaque",
        "attendees": [{"email": email} for email in content.attendees],
        "extendedProperties": {"private": {
            PRIVATE_MARK: "1", PRIVATE_CONNECTOR: content.connector,
            PRIVATE_EXTERNAL_ID: content.external_id, PRIVATE_HASH: op.content_hash or ""}},
    }
    conference = conference_data(op)
    if conference is not None:
        body["conferenceData"] = conference
    if kind == "insert":
        body["id"] = op.event_id
    return body


def conference_data(op: Op) -> dict[str, Any] | None:
    """A video visit's conferenceData: the source's join link (and dial-in) as entry points of
    a third-party ("addOn") conference, or, with calendar.google.create_meet and no link, a
    request for a Meet link. Its requestId is the event's id, so asking again (a retry, the
    next patch) creates no second conference. Sent with conferenceDataVersion=1, without
    which Google ignores conferenceData. None for other events: their body is as before."""
    content = op.content
    assert content is not None
    if content.visit_mode == "video" and content.join_url:
        entries: list[dict[str, Any]] = [{"entryPointType": "video", "uri": content.join_url,
                                          "label": urlsplit(content.join_url).hostname or "video"}]
        if content.dial_in:
            entries.append({"entryPointType": "phone", "uri": f"tel:{content.dial_in}", "label": content.dial_in})
        return {"conferenceSolution": {"key": {"type": "addOn"}, "name": "Video visit"}, "entryPoints": entries}
    if content.create_meet:
        return {"createRequest": {"requestId": f"clinicsync-{op.event_id}",
                                  "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
    return None


def remote_event(item: dict[str, Any]) -> RemoteEvent:
    def when(key: str) -> datetime | None:
        value = (item.get(key) or {}).get("dateTime")
        return datetime.fromisoformat(value).astimezone(UTC) if value else None

    responses = {str(a["email"]).strip().lower(): str(a.get("responseStatus") or "needsAction")
                 for a in item.get("attendees") or [] if isinstance(a, dict) and a.get("email")}
    return RemoteEvent(
        event_id=item["id"], cancelled=item.get("status") == "cancelled", start=when("start"), end=when("end"),
        summary=item.get("summary"), private=dict((item.get("extendedProperties") or {}).get("private") or {}),
        responses=responses)


def service_account_credentials(key_file: Path) -> service_account.Credentials:
    """The key file's credentials, parsed once per process (loading an RSA key is slow)
    and again only when the file changes (a rotated key)."""
    stat = key_file.stat()
    return _credentials(str(key_file), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _credentials(path: str, _mtime_ns: int, _size: int) -> service_account.Credentials:
    return service_account.Credentials.from_service_account_file(path, scopes=[SCOPE])


@functools.lru_cache(maxsize=4096)
def _delegated(base: service_account.Credentials, subject: str) -> service_account.Credentials:
    """One credentials object (and so one token, refreshed when it expires) per user acted as,
    for as long as the key file is unchanged: the next run of a service reuses it."""
    return base.with_subject(subject) if subject else base


class GoogleCalendar:
    def __init__(self, settings: GoogleSettings, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        assert settings.key_file is not None
        self.settings = settings
        self.sleep = sleep
        self._credentials = service_account_credentials(settings.key_file)
        self._services: dict[str, Any] = {}
        self._events: dict[str, Any] = {}  # events() builds every method anew: keep one per account
        self._https: dict[str, google_auth_httplib2.AuthorizedHttp] = {}
        self._wait_hint = 0.0  # the longest Retry-After of this round's passing faults
        self._pacer = Pacer(settings.user_calls_per_minute, clock, sleep)
        self._batch_uri = urljoin(settings.api_root, BATCH_PATH)
        # Users held for the rest of this provider's life (one run): a usage limit answered, or a
        # passing fault (rate limit, 5xx, transport) that outlasted every retry. Their calls fail
        # with that error unsent: a locked-out user gets one batch of calls per run, not every
        # event of a switch each run.
        self.held: dict[str, str] = {}

    # -- plumbing ----------------------------------------------------------------------
    def _resource(self, account: str) -> Any:
        """The events resource of one client per user acted as; the token is fetched on first use."""
        if account not in self._services:
            http = google_auth_httplib2.AuthorizedHttp(
                _delegated(self._credentials, account),  # per read, and 4 x that in all per request
                http=DeadlineHttp(self.settings.timeout_seconds * 4, timeout=self.settings.timeout_seconds))
            self._https[account] = http
            self._services[account] = build(
                "calendar", "v3", http=http, static_discovery=True, cache_discovery=False,
                client_options={"api_endpoint": urljoin(self.settings.api_root, SERVICE_PATH)})
            self._events[account] = self._services[account].events()
        return self._events[account]

    def _retrying(self, retry: Callable[[BaseException], bool]) -> Retrying:
        policy = self.settings.retry
        backoff = wait_exponential_jitter(multiplier=policy.initial_seconds, max=policy.max_seconds,
                                          jitter=policy.initial_seconds)

        def wait(state: RetryCallState) -> float:
            told = self._wait_hint
            failure = state.outcome.exception() if state.outcome is not None else None
            if isinstance(failure, HttpError):
                told = max(told, _told_to_wait(failure))
            self._wait_hint = 0.0
            return max(backoff(state), min(told, policy.max_seconds))

        return Retrying(stop=stop_after_attempt(policy.attempts), sleep=self.sleep, reraise=True,
                        wait=wait, retry=retry_if_exception(retry))

    def _fresh_token(self, account: str) -> None:
        """Fetch or renew the account's token ourselves, over the client's Http with the
        configured timeout: left to itself, googleapiclient refreshes a batch's tokens over a
        new httplib2.Http() that has none, so a token endpoint that takes the request and
        never answers would hang the push for good."""
        self._resource(account)
        http = self._https[account]
        if not http.credentials.valid:
            http.credentials.refresh(google_auth_httplib2.Request(http.http))

    def _request(self, events: Any, attempt: _Try) -> HttpRequest:
        op, kind = attempt.op, attempt.kind
        common: dict[str, Any] = {"calendarId": op.target.calendar_id,
                                  "sendUpdates": "all" if op.notify else "none"}
        if kind != "delete" and op.content is not None and conference_data(op) is not None:
            common["conferenceDataVersion"] = 1
        if kind == "insert":
            return events.insert(body=event_body(op, kind), **common)
        if kind == "patch":
            return events.patch(eventId=op.event_id, body=event_body(op, kind), **common)
        if kind == "update":
            return events.update(eventId=op.event_id, body=event_body(op, kind), **common)
        return events.delete(eventId=op.event_id, **common)

    # -- push ----------------------------------------------------------------------------
    def push(self, ops: Sequence[Op]) -> list[Outcome]:
        """Carry out ``ops`` in batches filled in the given order (the stage sorts by calendar)."""
        outcomes: dict[int, Outcome] = {}
        pending = [_Try(op, op.kind) for op in ops]
        try:
            for attempt in self._retrying(lambda exc: isinstance(exc, _Again)):
                with attempt:
                    pending = self._round(pending, outcomes)
                    if pending:
                        log.info("calendar.backoff", calls=len(pending),
                                 attempt=attempt.retry_state.attempt_number)
                        raise _Again
        except _Again:
            for item in pending:
                outcomes[item.op.key] = Outcome(item.op.key, False, error=item.error or "retries exhausted")
                self._hold(item.op.target.account, item.error or "retries exhausted")
        return [outcomes[op.key] for op in ops]

    def _hold(self, account: str, error: str) -> None:
        if account not in self.held:
            log.warning("calendar.user_held", error=error, reason="the rest of this user's calls wait for the next run")
            self.held[account] = error

    def _round(self, pending: list[_Try], outcomes: dict[int, Outcome]) -> list[_Try]:
        """Send every pending call once; 409/404 follow-ups go out at once, passing faults come back."""
        again: list[_Try] = []
        queue = self._authorized(self._unheld(pending, outcomes), outcomes, again)
        while queue:
            follow: list[_Try] = []
            size = self.settings.batch_size
            for start in range(0, len(queue), size):
                chunk = self._unheld(queue[start:start + size], outcomes)
                if not chunk:
                    continue
                for account, calls in Counter(item.op.target.account for item in chunk).items():
                    self._pacer.wait(account, calls)
                self._send_batch(chunk, outcomes, follow, again)
            queue = follow
        return again

    def _unheld(self, items: list[_Try], outcomes: dict[int, Outcome]) -> list[_Try]:
        """``items`` but those of held users, which fail now with their user's error, unsent."""
        if not self.held:
            return items
        out = []
        for item in items:
            error = self.held.get(item.op.target.account)
            if error is None:
                out.append(item)
            else:
                outcomes[item.op.key] = Outcome(item.op.key, False, error=error)
        return out

    def _authorized(self, pending: list[_Try], outcomes: dict[int, Outcome], again: list[_Try]) -> list[_Try]:
        """The calls whose user has a valid token (fetched now if need be). A user whose
        token is refused (delegation not granted?) fails alone, never a batch it shares."""
        refused: dict[str, tuple[str, bool]] = {}
        for account in dict.fromkeys(item.op.target.account for item in pending):
            try:
                self._fresh_token(account)
            except TransportError as exc:  # no answer from the token endpoint: a passing fault
                cause = exc.args[0] if exc.args else exc
                refused[account] = (f"token endpoint: {type(cause).__name__}", True)
            except GoogleAuthError as exc:
                refused[account] = (f"token refused: {_auth_reason(exc)}", bool(getattr(exc, "retryable", False)))
            except (httplib2.HttpLib2Error, OSError) as exc:
                refused[account] = (f"transport: {type(exc).__name__}", True)
        for account, (error, passing) in refused.items():
            mine = [item for item in pending if item.op.target.account == account]
            self._whole_batch_failed(mine, error, passing, outcomes, again)
        return [item for item in pending if item.op.target.account not in refused]

    def _send_batch(self, chunk: list[_Try], outcomes: dict[int, Outcome], follow: list[_Try],
                    again: list[_Try]) -> None:
        answers: dict[str, tuple[Any, HttpError | None]] = {}

        def collect(request_id: str, response: Any, exception: HttpError | None) -> None:
            answers[request_id] = (response, exception)

        batch = BatchHttpRequest(callback=collect, batch_uri=self._batch_uri)
        for index, item in enumerate(chunk):
            batch.add(self._request(self._resource(item.op.target.account), item), request_id=str(index))
        try:
            batch.execute()
        except HttpError as exc:  # the batch request as a whole
            self._wait_hint = max(self._wait_hint, _told_to_wait(exc))
            status, reason = error_of(exc)
            self._whole_batch_failed(chunk, f"HTTP {status} {reason}".strip(), retryable(status, reason),
                                     outcomes, again)
            return
        except (httplib2.HttpLib2Error, OSError) as exc:
            self._whole_batch_failed(chunk, f"transport: {type(exc).__name__}", True, outcomes, again)
            return
        except TransportError as exc:  # no answer from the token endpoint: a passing fault
            cause = exc.args[0] if exc.args else exc
            self._whole_batch_failed(chunk, f"token endpoint: {type(cause).__name__}", True, outcomes, again)
            return
        except GoogleAuthError as exc:  # the token endpoint refused (delegation not granted?)
            self._whole_batch_failed(chunk, f"token refused: {_auth_reason(exc)}",
                                     bool(getattr(exc, "retryable", False)), outcomes, again)
            return
        for index, item in enumerate(chunk):
            response, exception = answers.get(str(index), (None, None))
            if exception is None:
                state: Literal["present", "deleted"] = "deleted" if item.kind == "delete" else "present"
                etag = response.get("etag") if isinstance(response, dict) else None
                outcomes[item.op.key] = Outcome(item.op.key, True, state=state, etag=etag)
            else:
                self._wait_hint = max(self._wait_hint, _told_to_wait(exception))
                self._answer_failed(item, exception, outcomes, follow, again)

    @staticmethod
    def _whole_batch_failed(chunk: list[_Try], error: str, passing: bool, outcomes: dict[int, Outcome],
                            again: list[_Try]) -> None:
        log.warning("calendar.batch_failed", calls=len(chunk), error=error, retry=passing)
        for item in chunk:
            item.error = error
            if passing:
                again.append(item)
            else:
                outcomes[item.op.key] = Outcome(item.op.key, False, error=error)

    def _answer_failed(self, item: _Try, exc: HttpError, outcomes: dict[int, Outcome], follow: list[_Try],
                       again: list[_Try]) -> None:
        status, reason = error_of(exc)
        if status == 403 and reason in USAGE_LIMIT_REASONS:
            self._hold(item.op.target.account, f"HTTP {status} {reason}")
        item.error = f"HTTP {status} {reason}".strip()
        key = item.op.key
        if item.kind == "delete" and status in (404, 410):
            outcomes[key] = Outcome(key, True, state="deleted")  # already gone: what we wanted
            return
        switch: dict[tuple[str, int], OpKind] = {("insert", 409): "update", ("patch", 404): "insert",
                                                 ("update", 404): "insert"}
        next_kind = switch.get((item.kind, status))
        if next_kind is not None and item.hops < _MAX_HOPS:
            item.kind, item.hops = next_kind, item.hops + 1
            follow.append(item)
        elif retryable(status, reason):
            again.append(item)
        else:
            log.warning("calendar.call_failed", event_id=item.op.event_id, kind=item.kind, error=item.error)
            outcomes[key] = Outcome(key, False, error=item.error)

    # -- list (reconcile) --------------------------------------------------------------
    def list_events(self, target: Target, since: datetime) -> list[RemoteEvent]:
        events = self._resource(target.account)
        request = events.list(calendarId=target.calendar_id, privateExtendedProperty=f"{PRIVATE_MARK}=1",
                              showDeleted=True, timeMin=iso_z(since), maxResults=2500)
        items: list[dict[str, Any]] = []
        while request is not None:
            self._pacer.wait(target.account, 1)
            page = self._execute(request, target.account)
            items.extend(page.get("items", []))
            request = events.list_next(request, page)
        return [remote_event(item) for item in items]

    def _execute(self, request: HttpRequest, account: str) -> Any:
        for attempt in self._retrying(_retryable_exception):
            with attempt:
                self._fresh_token(account)
                return request.execute()
        raise AssertionError("unreachable")  # pragma: no cover - Retrying reraises

    def flush(self) -> None:
        """Every call is sent by :meth:`push`: nothing is buffered."""

    def close(self) -> None:
        for service in self._services.values():
            service.close()
        self._services.clear()
        self._events.clear()
        self._https.clear()


def _auth_reason(exc: GoogleAuthError) -> str:
    """'unauthorized_client' and the like, from google-auth's (error, body) arguments."""
    first = exc.args[0] if exc.args else ""
    return str(first).split(":", 1)[0][:80] if first else type(exc).__name__
