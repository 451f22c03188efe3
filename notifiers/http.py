"""What the HTTP vendors' answers share: when a 429/503 says to come back."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110)."""
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
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def is_retryable_status(status: int) -> bool:
    """Throttled or the provider's own fault: the same request may succeed later."""
    return status in (408, 429) or status >= 500
