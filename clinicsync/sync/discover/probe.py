"""The one shape every discover probe reads the database through: a function from a guarded
SELECT (built by the probe, passed through the connector's SELECT guard by sql_reading.run_checked)
to its rows. Probes take it as a parameter so they can be tried on any connection, and never open
their own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Run = Callable[[str], list[tuple[Any, ...]]]
