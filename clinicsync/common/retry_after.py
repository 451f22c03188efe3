"""The Retry-After header, read once for every HTTP peer (FHIR servers, Google, Twilio,
SendGrid): how long the peer asked us to wait before trying again."""

from __future__ import annotations

import time
from datetime import UTC
from email.utils import parsedate_to_datetime


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait: delta-seconds or an HTTP-date (RFC 9110 §10.2.3); None when absent
    or unreadable. A date without a zone (``-0000``) is UTC, as HTTP-dates always are."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
