"""The read-ahead thread: values and exceptions come back to the caller as if the call had
been made there, calls run in order on one thread in the caller's context (log bindings),
and closing lets the thread end."""

from __future__ import annotations

import contextvars
import threading

import pytest

from clinicsync.connectors.fhir.prefetch import ReadAhead

RUN = contextvars.ContextVar("run", default="none")


def test_calls_run_in_order_on_one_thread_in_the_callers_context() -> None:
    RUN.set("r1")
    ahead = ReadAhead("fhir-prefetch-test")
    futures = [ahead.submit(lambda i=i: (i, threading.current_thread().name, RUN.get())) for i in range(3)]
    assert [f.result() for f in futures] == [(i, "fhir-prefetch-test", "r1") for i in range(3)]
    ahead.close()
    assert ahead._thread is not None
    ahead._thread.join(timeout=5)
    assert not ahead._thread.is_alive()


def test_an_exception_is_raised_by_result_not_lost_on_the_thread() -> None:
    def fail() -> None:
        raise ValueError("page 2 refused")

    ahead = ReadAhead("fhir-prefetch-test")
    with pytest.raises(ValueError, match="page 2 refused"):
        ahead.submit(fail).result()
    assert ahead.submit(lambda: "still serving").result() == "still serving"
    ahead.close()


def test_closing_an_unused_read_ahead_starts_no_thread() -> None:
    ahead = ReadAhead("fhir-prefetch-test")
    ahead.close()
    assert ahead._thread is None
