"""Phones as clinics type them: several numbers in one cell ("0772 100001 / 0701 222333"),
separated by '/', ',', ';' or ' or '. The first mobile is the patient's phone (the others are its
fallback numbers: tests/sync/test_fallback_phones.py); a cell without a mobile gives its first valid
number; a slash inside one number ("030/1234567") is still that number; a cell that is not two
numbers of six digits or more is read as one number, as before (refused when it is none)."""

from __future__ import annotations

import pytest

from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.transforms import TransformError, phone_parser


@pytest.mark.parametrize(("region", "cell", "phone"), [
    ("UG", "0772 100001 / 0701 222333", "+256772100001"),
    ("UG", "0414 123456, 0701 222333", "+256701222333"),  # a Kampala landline first: the mobile wins
    ("ES", "91 555 12 34; 612 345 678", "+34612345678"),
    ("ES", "612 345 678 or 91 555 12 34", "+34612345678"),
    ("ES", "612 345 678 OR 699 111 222", "+34612345678"),
    ("ES", "91 555 12 34 / 91 555 12 35", "+34915551234"),  # no mobile: the first number
    ("US", "(212) 555-0123 / (917) 555-0199", "+12125550123"),
    ("DE", "030/1234567", "+49301234567"),  # one number written with a slash
    # As discover gathers a person's untyped phone rows (the preferred landline first, an older
    # mobile after it, a second landline last): the mobile is taken.
    ("GB", "020 7946 0001 / 07911 100001 / 020 7946 0002", "+447911100001"),
])
def test_the_first_mobile_of_a_cell_is_the_phone(region: str, cell: str, phone: str) -> None:
    assert phone_parser(region)(cell) == phone


@pytest.mark.parametrize("cell", ["none / unknown", "12 / 34", "call the daughter", "030000/000#"])
def test_a_cell_without_two_numbers_is_read_as_one(cell: str) -> None:
    """Split only into parts of six digits or more, two at least: else the cell is one (invalid)
    number, as phonenumbers reads it (tests/mappings/test_phone_fast_path.py)."""
    with pytest.raises(TransformError, match=r"not a (valid )?phone number"):
        phone_parser("DE" if cell.endswith("#") else "ES")(cell)


def test_a_mapped_visit_keeps_the_mobile_of_a_two_number_cell() -> None:
    mapping = load_mapping("csv_default", "Africa/Kampala", "UG")
    record = {"appointment_id": "A1", "start": "2030-03-12T10:00:00", "end": "2030-03-12T10:30:00",
              "status": "booked", "patient_id": "P1", "patient_phone": "0414 123456 / 0772 100001"}
    for apply in (mapping.apply, mapping.apply_interpreted):
        visit = apply(record)
        assert visit.patient is not None and visit.patient.phone == "+256772100001"
        assert not any("phone" in note for note in visit.notes)
