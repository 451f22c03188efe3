"""The read-ahead helper: a value or an exception comes back to the caller as if the call
had been made there, and the thread sees the caller's context (log bindings)."""

from __future__ import annotations

import contextvars
import threading

import pytest

from connectors.fhir.prefetch import Prefetch

RUN = contextvars.ContextVar("run", default="none")


def test_the_value_comes_back_and_the_call_ran_on_another_thread_in_the_callers_context() -> None:
    RUN.set("r1")
    ahead = Prefetch(lambda: (threading.current_thread().name, RUN.get()), name="fhir-prefetch-test")
    assert ahead.result() == ("fhir-prefetch-test", "r1")


def test_an_exception_is_raised_by_result_not_lost_on_the_thread() -> None:
    def fail() -> None:
        raise ValueError("page 2 refused")

    ahead = Prefetch(fail, name="fhir-prefetch-test")
    with pytest.raises(ValueError, match="page 2 refused"):
        ahead.result()
