"""What the HTTP vendors' answers share: which statuses are passing faults (Retry-After: common/retry_after.py)."""

from __future__ import annotations


def is_retryable_status(status: int) -> bool:
    """Throttled or the provider's own fault: the same request may succeed later."""
    return status in (408, 429) or status >= 500
