"""The appointment content hash, pinned: change detection compares it with hashes stored by
earlier versions, so any change to how it is computed would re-update (and announce and
push) every stored appointment. Every combination of the later field groups (notes and
answer, telehealth, cancellation reason), with a bare and a fully filled appointment."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinicsync.mappings.model import (
    NormalizedAppointment,
    NormalizedPatient,
    NormalizedPractitioner,
    positional_builder,
)
from clinicsync.sync.store.store import _appointment_hash
from tests.sync.hash_support import as_stored_before

START = datetime(2026, 3, 4, 14, 30, tzinfo=UTC)
GROUPS: dict[str, dict[str, Any]] = {
    "notes": {"notes": ("patient.language: dropped '151'",), "answer": "accepted"},
    "telehealth": {"visit_mode": "video", "join_url": "https://meet.example/j/1",
                   "provider_join_url": "https://meet.example/h/1", "dial_in": "+12125550100"},
    "cancel": {"cancel_reason": "Patient unwell"},
}
PINNED = {
    (False, ()): "45396cafd3d3208811eb45d430a7f87f",
    (False, ("notes",)): "db6a9d629f9d34de0e646299ce77ea33",
    (False, ("telehealth",)): "c4fcb4d850f9b7f06c91154ec9ab57c4",
    (False, ("cancel",)): "5c479b7b430e0b7d93251ec60e03d9a5",
    (False, ("notes", "telehealth")): "59dd934e4f8c541f3397152d115504bd",
    (False, ("notes", "cancel")): "5a4947c418980e847c11d6aaae18480d",
    (False, ("telehealth", "cancel")): "f5a052ade1976a11aefd268b429228f7",
    (False, ("notes", "telehealth", "cancel")): "8a7b8caa3939d9e521da6b948274392d",
    (True, ()): "83f760740190e20565e642796b004e78",
    (True, ("notes",)): "199e01d0b316dd5fa408a9c93953000f",
    (True, ("telehealth",)): "27fdec07ad8338807db59c51b0ce2e1f",
    (True, ("cancel",)): "f690cf7962d530de6566daf1928c20d7",
    (True, ("notes", "telehealth")): "5f4b2379bf36281077ceab6e5a4ecb42",
    (True, ("notes", "cancel")): "32cfa3c6ece32e87ec7b7445584251ab",
    (True, ("telehealth", "cancel")): "20e20a18977d7571e678421e65d166f6",
    (True, ("notes", "telehealth", "cancel")): "f1f7a65c6a0d5f4dc074e283e843b02f",
}
PEOPLE = {"patient": "bee199fd0d2c78b275ba5addda020526", "bare patient": "ffb254e2d44de96451e99a779ff0b3d7",
          "practitioner": "4d458cb2b77a3ac44d7e38a3f6656cba",
          "bare practitioner": "e74aecbe09166395d79996e37722c614"}
# A group counts whole when any of its fields is set; "in person" without links is unset.
PARTIAL: dict[tuple[str, bool], tuple[dict[str, Any], str]] = {
    ("in_person", False): ({"visit_mode": "in_person"}, "45396cafd3d3208811eb45d430a7f87f"),
    ("in_person", True): ({"visit_mode": "in_person"}, "83f760740190e20565e642796b004e78"),
    ("in_person_dial", False): ({"visit_mode": "in_person", "dial_in": "+12125550100"},
                                "3392137fac8a30d920eb7522ca0f7e14"),
    ("in_person_dial", True): ({"visit_mode": "in_person", "dial_in": "+12125550100"},
                               "de9cbf65ad50bd73d115339e7b9d3bc6"),
    ("answer_only", False): ({"answer": "declined"}, "27a6e7eb414b1092e2d37db2c9c52c62"),
    ("answer_only", True): ({"answer": "declined"}, "27ce12600badcab09e5fc5ac0deb5d87"),
    ("notes_only", False): ({"notes": ("a", "b")}, "431cc6bd46942bfe0a72dce094a58d0a"),
    ("notes_only", True): ({"notes": ("a", "b")}, "491ac6c001d9f1168b73079b89c0da8c"),
    ("phone_mode", False): ({"visit_mode": "phone"}, "2b2ec601896043994e0feb2941ad8039"),
    ("phone_mode", True): ({"visit_mode": "phone"}, "54ee24394b413106cc5a9051005165ca"),
}


def _base(full: bool) -> dict[str, Any]:
    values: dict[str, Any] = {"external_id": "A-1", "status": "booked", "start": START,
                              "end": START + timedelta(minutes=30), "timezone": "America/New_York"}
    if full:
        values.update(
            type="Follow-up", location="Main", source_updated_at=START - timedelta(days=1),
            patient=NormalizedPatient(external_id="P-1", name="Ana López", phone="+12125550123",
                                      email="ana@example.org", language="es", channel="sms",
                                      allow_sms=True, allow_email=False),
            practitioner=NormalizedPractitioner(external_id="D1", name="Dr Who", email="d1@clinic.example"))
    return values


def test_every_combination_is_pinned() -> None:
    combos = {(full, combo) for full in (False, True) for n in range(len(GROUPS) + 1)
              for combo in itertools.combinations(GROUPS, n)}
    assert combos == set(PINNED)


@pytest.mark.parametrize(("full", "groups"), sorted(PINNED))
def test_hash_of_each_combination_of_later_groups(full: bool, groups: tuple[str, ...]) -> None:
    values = _base(full)
    for group in groups:
        values.update(GROUPS[group])
    assert _appointment_hash(NormalizedAppointment(**values)) == PINNED[(full, groups)]


@pytest.mark.parametrize(("label", "full"), sorted(PARTIAL))
def test_hash_of_partly_set_groups(label: str, full: bool) -> None:
    extra, expected = PARTIAL[(label, full)]
    assert _appointment_hash(NormalizedAppointment(**{**_base(full), **extra})) == expected


def test_people_hashes_are_pinned() -> None:
    """Patients and practitioners are compared by the hash of their fields, stored since the
    first stores: it must not change either."""
    from clinicsync.sync.store.store import _PATIENT, _PRACTITIONER

    full = _base(True)
    assert _PATIENT.content_hash(full["patient"]) == PEOPLE["patient"]
    assert _PATIENT.content_hash(NormalizedPatient(external_id="P-2")) == PEOPLE["bare patient"]
    assert _PRACTITIONER.content_hash(full["practitioner"]) == PEOPLE["practitioner"]
    assert _PRACTITIONER.content_hash(NormalizedPractitioner(external_id="D2")) == PEOPLE["bare practitioner"]


def test_a_person_shared_by_appointments_hashes_as_a_fresh_one() -> None:
    """The mapping hands every appointment of a patient the same object (now built by
    model.positional_builder): a later appointment with that object, or with an equal new
    one, hashes as the first; a changed one does not."""
    full = _base(True)
    first = NormalizedAppointment(**full)
    expected = PINNED[(True, ())]
    assert _appointment_hash(first) == expected
    built = positional_builder(NormalizedAppointment)(*(getattr(first, f.name) for f in fields(NormalizedAppointment)))
    assert type(built) is NormalizedAppointment and _appointment_hash(built) == expected  # as the mapping builds it
    assert built.patient is first.patient and _appointment_hash(first) == expected  # the shared person, hashed again
    equal = NormalizedPatient(**{f: getattr(first.patient, f) for f in ("external_id", "name", "phone", "email",
                                                                         "language", "channel", "allow_sms",
                                                                         "allow_email")})
    assert _appointment_hash(NormalizedAppointment(**{**full, "patient": equal})) == expected
    moved = NormalizedPatient(external_id="P-1", name="Ana López", phone="+12125550199")
    assert _appointment_hash(NormalizedAppointment(**{**full, "patient": moved})) != expected


def test_a_batch_hashes_each_appointment_as_alone() -> None:
    """The batch path (store._batch_hashes: each person's JSON written once per batch) gives
    byte for byte the pinned hashes, for every combination of groups and partly set groups,
    with people shared between appointments, repeated, absent, or equal but not the same."""
    from clinicsync.sync.store.store import _batch_hashes

    hashes = _batch_hashes()
    cases: list[tuple[dict[str, Any], str]] = []
    for (full, groups), expected in sorted(PINNED.items()):
        values = _base(full)
        for group in groups:
            values.update(GROUPS[group])
        cases.append((values, expected))
    cases.extend(({**_base(full), **extra}, expected) for (_, full), (extra, expected) in sorted(PARTIAL.items()))
    shared = _base(True)
    for values, expected in cases * 2:  # the second time, each person's JSON comes from the batch's memo
        if "patient" in values:
            values = {**values, "patient": shared["patient"], "practitioner": shared["practitioner"]}
        assert hashes(NormalizedAppointment(**values)) == expected
    changed = NormalizedPatient(external_id="P-1", name="Ana Lopez")
    appointment = NormalizedAppointment(**{**_base(True), "patient": changed})
    assert hashes(appointment) == _appointment_hash(appointment) != PINNED[(True, ())]


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), st.text()), min_size=8, max_size=8),
       flags=st.tuples(st.booleans(), st.booleans()))
def test_a_persons_declared_dict_writes_the_dataclass_json(texts: list[str | None], flags: tuple[bool, bool]) -> None:
    """The batch path writes a patient's (practitioner's) JSON from a dict display of its
    fields in declaration order (store._PERSON_DICTS, issue 32): the same bytes orjson writes
    for the dataclass itself, which is what the stored hashes were made of."""
    from clinicsync.sync.store.store import _PERSON_DICTS

    patient = NormalizedPatient(texts[0] or "P-1", *texts[1:6], *flags, texts[7])  # type: ignore[arg-type]
    practitioner = NormalizedPractitioner(texts[6] or "D-1", texts[7], texts[1])
    for person in (patient, practitioner, NormalizedPatient("P-2"), NormalizedPractitioner("D-2")):
        # A field added later (the patient's fallback numbers) is written only when set.
        assert orjson.dumps(_PERSON_DICTS[type(person)](person)) == orjson.dumps(as_stored_before(person))


def test_a_batch_writes_a_person_of_another_type_whole() -> None:
    """A person object of a type the batch path has no dict display for (a subclass) is
    written by orjson whole, as before."""
    from clinicsync.sync.store.store import _batch_hashes

    @dataclass(frozen=True, slots=True)
    class Other(NormalizedPatient):
        pass

    values = _base(True)
    odd = Other(**{f.name: getattr(values["patient"], f.name) for f in fields(NormalizedPatient)})
    appointment = NormalizedAppointment(**{**values, "patient": odd})
    assert _batch_hashes()(appointment) == _appointment_hash(appointment) == PINNED[(True, ())]


def test_held_json_hashes_as_alone_when_a_person_it_held_is_gone() -> None:
    """store.HeldJson holds a batch's people's JSON by the person object's identity: every
    hash is ``_appointment_hash``'s, also when a person is freed and another takes its place
    in memory (the held objects are kept, so their ids are never reused while held)."""
    from clinicsync.sync.store.store import HeldJson, _batch_hashes

    hashes = _batch_hashes(HeldJson())
    base = _base(True)
    for round_ in range(40):
        patient = NormalizedPatient(f"P-{round_}", f"Name {round_}", f"+1212555{round_:04d}")
        appointment = NormalizedAppointment(**{**base, "patient": patient})
        assert hashes(appointment) == _appointment_hash(appointment)
        shared = NormalizedAppointment(**base)  # the first people, held since
        assert hashes(shared) == _appointment_hash(shared) == PINNED[(True, ())]
        del patient, appointment  # freed: a later patient may sit where it was


def test_a_batchs_fused_rows_are_the_loops_rows(tmp_path: Any) -> None:
    """A batch whose appointments are all new and plain (no notes, answer, telehealth or
    reason) builds each row with its hash in one call (store._hashed_rows): the same row as
    ``_bound_rows`` given ``_batch_hashes``' hash, the columns left out and inlined alike."""
    from sqlalchemy import text

    from clinicsync.sync.store import store as store_module
    from clinicsync.sync.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    base = {**_base(True), "source_updated_at": None}  # plain: every one of store._UNSET_SOURCES empty
    plain = [NormalizedAppointment(**{**base, "external_id": f"A-{i}", "patient": None if i % 3 == 0 else
                                      NormalizedPatient(f"P-{i % 4}", "Ana")}) for i in range(12)]
    assert store_module._all_plain(plain)
    assert not store_module._all_plain([*plain, NormalizedAppointment(**{**base, "cancel_reason": "ill"})])
    assert not store_module._all_plain([*plain, NormalizedAppointment(**_base(True))])  # source_updated_at
    now = datetime(2027, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            for inline, unset in ((None, frozenset()), (store_module._inlined(connection, "src", now),
                                                        store_module._unset_columns(connection, plain, True))):
                fused = store_module._hashed_rows(connection, "src", now, store_module.HeldJson(),
                                                  store_module._PLAIN_MASK, inline=inline, unset=unset)
                looped = store_module._bound_rows(connection, "src", now, inline=inline, unset=unset)
                hashed = store_module._batch_hashes()
                for number, appointment in enumerate(plain):
                    printed = None if number % 2 else f"{number:032x}"
                    assert fused(appointment, printed) == looped(appointment, hashed(appointment), printed)
    finally:
        engine.dispose()


def test_a_mixed_batchs_fused_rows_are_the_loops_rows(tmp_path: Any) -> None:
    """A batch whose appointments are all new but not all plain builds each row with its hash in
    one call, each with the view of its own mask (store._hashed_rows with no mask): the same row
    as ``_bound_rows`` given ``_batch_hashes``' hash, for every combination of later groups
    and a visit stated in person, the columns left out and inlined alike."""
    from sqlalchemy import text

    from clinicsync.sync.store import store as store_module
    from clinicsync.sync.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    appointments = []
    for full, groups in sorted(PINNED):
        values = {**_base(full), "external_id": f"A-{len(appointments)}"}
        for group in groups:
            values.update(GROUPS[group])
        appointments.append(NormalizedAppointment(**values))
    appointments.append(NormalizedAppointment(**{**_base(True), "external_id": "A-in", "visit_mode": "in_person"}))
    now = datetime(2027, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            in_person = [a for a in appointments if a.visit_mode is None]  # a batch without telehealth
            unset = store_module._unset_columns(connection, in_person)
            assert unset == {"visit_mode", "join_url", "provider_join_url", "dial_in"}
            for inline, left, batch in ((None, frozenset(), appointments),
                                        (store_module._inlined(connection, "src", now), unset, in_person)):
                fused = store_module._hashed_rows(connection, "src", now, store_module.HeldJson(), None,
                                                  inline=inline, unset=left)
                looped = store_module._bound_rows(connection, "src", now, inline=inline, unset=left)
                hashed = store_module._batch_hashes()
                assert len({hashed(a) for a in batch}) == len(batch) > 4
                for number, appointment in enumerate(batch):
                    printed = None if number % 2 else f"{number:032x}"
                    row = fused(appointment, printed)
                    assert row == looped(appointment, hashed(appointment), printed)
                    assert _appointment_hash(appointment) in row
    finally:
        engine.dispose()
