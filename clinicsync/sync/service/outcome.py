"""What a job's run came to, in one line for the job board and the log: shared by the service
loop (runner.py) and the poll pool (polls.py), which run jobs in threads of their own."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

JobResult = Mapping[str, Any] | None


def failure(result: JobResult) -> str | None:
    """The error a job's summary reports (a true "error", or "failed" with the connectors'
    errors), None when it went well."""
    if not result:
        return None
    if result.get("error"):
        return str(result["error"])
    if result.get("failed"):
        errors = [f"{key}: {value['error']}" for key, value in result.items()
                  if isinstance(value, dict) and value.get("error")]
        return "; ".join(errors) or "failed"
    return None


def where(exc: BaseException) -> str:
    """An exception as the board shows it: its type and the function it came from, never its
    message (which can carry a patient's data or a secret)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{type(exc).__name__} in {frames[-1].name}" if frames else type(exc).__name__
