"""What `discover` proposes: the contract between the discoverers (one per source kind) and
the writer. A discoverer reads a source read-only and returns a ``Proposal``; the writer turns
it into a settings block and a mapping file, every line commented with where it came from,
and `discover` then runs `check` on it. Nothing is guessed silently: every placed field is a
``Guess`` with its confidence and reason, every column not placed is in ``unplaced``.

Secrets never enter a proposal: a password or token in a URL is replaced by a ``${VAR}``
placeholder before the proposal is built (``secret_env``), and the written files carry only
the placeholder.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

Confidence = float
"""0.0 to 1.0: 1.0 for a known product's documented column, lower for a guess by name/type/values."""


@dataclass(frozen=True)
class Guess:
    """One mapping field placed on one source column (or path, or segment field)."""

    field: str  # the mapping's field name, e.g. "start", "patient.phone" (mappings/model.py)
    source: str  # the column, JSON path or HL7 field it reads, e.g. "fecha_cita", "PID-13"
    confidence: Confidence
    why: str  # what made the guess: "known product: OpenEMR", "name ~ 'telefono', 98% values are phones"
    spec: dict[str, Any] = dataclasses.field(default_factory=dict)  # the mapping's field spec, e.g. {"from": "x"}


@dataclass(frozen=True)
class StatusWord:
    """A distinct value of the status column, and the status it maps to (None: unknown word)."""

    value: str
    status: str | None  # booked | cancelled | noshow | ... (mappings' vocabulary) or None
    count: int  # how many sampled rows carry it
    confidence: Confidence


@dataclass
class Proposal:
    """A connector block and a mapping for one source, with where each part came from."""

    kind: Literal["sql", "csv", "fhir", "hl7v2"]
    name: str  # the proposed connector name
    product: str | None  # a recognized product ("openemr", "easyappointments", …) or None
    product_confidence: Confidence
    # The connector block as it goes into settings.yaml `connectors:` (secrets as ${VAR}).
    connector: dict[str, Any]
    # Why each top-level key of ``connector`` has its value: key -> comment.
    connector_notes: dict[str, str] = dataclasses.field(default_factory=dict)
    # The mapping: a preset name to use as it is (``mapping_preset``), or a mapping file's
    # content (``mapping``: extends/status_map/fields) written beside settings.yaml.
    mapping_preset: str | None = None
    mapping: dict[str, Any] | None = None
    guesses: list[Guess] = dataclasses.field(default_factory=list)
    status_words: list[StatusWord] = dataclasses.field(default_factory=list)
    unplaced: list[str] = dataclasses.field(default_factory=list)  # columns/paths no field took, by name
    # Environment variables the admin must set (placeholders used in ``connector``): name -> what.
    secret_env: dict[str, str] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)  # anything else the admin should know
    # The query reading only what the mapping uses (minimalread.py), once the clock is settled on
    # the whole one; None: ``connector["query"]`` is already that.
    minimal_query: str | None = None
