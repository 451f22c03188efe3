"""model.positional_builder: the generated mapping code builds appointments, patients and
practitioners through it; what it builds must be exactly what the dataclass builds."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from datetime import UTC, datetime

import pytest

from clinicsync.mappings.model import (
    NormalizedAppointment,
    NormalizedPatient,
    NormalizedPractitioner,
    positional_builder,
)
from clinicsync.sync.store.store import Mapped

START = datetime(2027, 1, 4, 13, 0, tzinfo=UTC)
PATIENT = NormalizedPatient("P1", "Ana Lima", "+12012247634", "ana@example.com", "pt-BR", "sms", False, True)
DOCTOR = NormalizedPractitioner("D1", "Dr. Who", "who@example.org")
APPOINTMENT = NormalizedAppointment(
    "A1", "booked", START, START.replace(hour=14), "America/New_York", "Consultation", "Main", PATIENT, DOCTOR,
    START, ("patient.language: dropped",), "accepted", "video", "https://x.example/j", None, "+12012247634",
    "sick", START)


MAPPED = Mapped("r1", APPOINTMENT, False, "R1", "ab" * 16, START)


@pytest.mark.parametrize("made", [PATIENT, DOCTOR, APPOINTMENT, MAPPED])
def test_builds_what_the_dataclass_builds(made: object) -> None:
    values = [getattr(made, f.name) for f in fields(made)]  # type: ignore[arg-type]
    built = positional_builder(type(made))(*values)
    assert type(built) is type(made)
    assert built == made and hash(built) == hash(made) and repr(built) == repr(made)
    assert dataclasses.astuple(built) == dataclasses.astuple(made)
    first = fields(made)[0].name  # type: ignore[arg-type]
    assert dataclasses.replace(built, **{first: "other"}) == dataclasses.replace(made, **{first: "other"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(built, first, "other")


def test_refuses_what_it_would_build_wrong() -> None:
    @dataclass(frozen=True)
    class Checked:
        value: int

        def __post_init__(self) -> None:
            if self.value < 0:
                raise ValueError("negative")

    @dataclass(frozen=True)
    class Listed:
        items: list[int] = dataclasses.field(default_factory=list)

    for kind in (Checked, Listed):
        with pytest.raises(TypeError):
            positional_builder(kind)
