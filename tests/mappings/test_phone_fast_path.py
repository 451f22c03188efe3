"""The phone fast path (mappings/transforms.py ``_plain_nanp``) against phonenumbers itself
(``_phone_e164``: parse, is_valid_number, format E.164): the same E.164 or the same error
message for every text, whether the fast path answered it or passed it on. Checked on
generated numbers of its shapes and near misses, every phone of W1's export, every
phone-like text of the fixtures, and each region's example numbers in every format."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench import data
from clinicsync.mappings.transforms import TransformError, _phone_e164, _plain_nanp, phone_parser
from clinicsync.sync.cli.demo import COLUMNS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# Default regions: the plan's main region, others of +1 (with and without their own national
# prefix rules), and regions of other plans (only '+1' numbers are fast there).
REGIONS = ("US", "CA", "PR", "DO", "JM", "AG", "BS", "VI", "GB", "DE", "MX", "FR", "IN")


def reference(text: str, region: str) -> tuple[bool, str]:
    try:
        return True, _phone_e164(text, region)
    except TransformError as exc:
        return False, str(exc)


def outcome(text: str, region: str) -> tuple[bool, str]:
    try:
        return True, phone_parser(region)(text)
    except TransformError as exc:
        return False, str(exc)


def assert_same(text: str, region: str) -> bool:
    """The parser's outcome is phonenumbers'; returns whether the fast path answered."""
    fast = _plain_nanp(region)
    answered = fast(text) if fast is not None else None
    expected = reference(text, region)
    if answered is not None:
        assert (True, answered) == expected, (text, region)
    assert outcome(text, region) == expected, (text, region)
    return answered is not None


_SEPARATORS = st.sampled_from(["", " ", "-", ".", "  ", "/", "\u00a0", "_"])


@st.composite
def nanp_like(draw: st.DrawFn) -> str:
    """The fast path's shapes, and near misses: other separators and leading digits, a
    leading 1, 011, too few or too many digits, letters, extensions, other plus codes."""
    area = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    exchange = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    line = draw(st.from_regex(r"[0-9]{3,5}", fullmatch=True))
    head = draw(st.sampled_from(["", "", "", "+1", "+1 ", "+1-", "1 ", "1", "011 ", "+", "+44 ", "+52 ", "tel:"]))
    bracketed = draw(st.booleans())
    first = f"({area})" + draw(st.sampled_from(["", " ", "-"])) if bracketed else area + draw(_SEPARATORS)
    tail = draw(st.sampled_from(["", "", "", " x12", " ext. 7", "#", ",,1", " ", "a"]))
    return head + first + exchange + draw(_SEPARATORS) + line + tail


@settings(max_examples=500, deadline=None)
@given(text=nanp_like(), region=st.sampled_from(REGIONS))
def test_generated_numbers_read_as_phonenumbers_reads_them(text: str, region: str) -> None:
    assert_same(text, region)


def test_every_area_code_and_shape_reads_as_phonenumbers_reads_it() -> None:
    """Every area code (valid, unassigned or not a US one), for the US and Canada."""
    answered = 0
    for area in range(200, 1000):
        for shape in ("({a}) {e}-{n}", "+1{a}{e}{n}"):
            for region in ("US", "CA"):
                answered += assert_same(shape.format(a=area, e=555 + area % 300, n=f"{area * 7 % 10_000:04d}"),
                                        region)
    assert answered > 1000  # the fast path does answer (a dead one would pass the rest)


def test_the_phones_of_w1s_export_read_as_phonenumbers_reads_them() -> None:
    column = COLUMNS.index("patient_phone")
    phones = sorted({row[column] for row, _bad, _changed in data.rows(30_000)})
    answered = sum(assert_same(phone, "US") for phone in phones)
    assert answered > 0.95 * len(phones)


_PHONE_LIKE = re.compile(r"(?:tel:|whatsapp:)?\+?\(?[0-9][0-9 ().-]{5,18}[0-9]")


def fixture_phones() -> list[str]:
    texts: set[str] = set()
    for path in sorted(FIXTURES.rglob("*")):
        if path.is_file() and path.suffix in (".csv", ".json", ".hl7", ".txt", ".yaml", ".xml", ".ics"):
            texts.update(m.group().strip() for m in _PHONE_LIKE.finditer(path.read_text(errors="replace")))
    return sorted(texts)


def test_every_phone_like_text_of_the_fixtures_reads_as_phonenumbers_reads_it() -> None:
    phones = fixture_phones()
    assert len(phones) > 50
    for phone in phones:
        for region in ("US", "CA", "GB"):
            assert_same(phone, region)


@cache
def example_texts() -> list[str]:
    """Each region's example numbers (valid ones of every type, and its invalid example)
    written in E.164, international, national and RFC 3966 format."""
    numbers: list[Any] = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(12):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                numbers.append(example)
        invalid = phonenumbers.invalid_example_number(region)
        if invalid is not None:
            numbers.append(invalid)
    formats = (phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
               phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.RFC3966)
    return sorted({phonenumbers.format_number(n, f) for n in numbers for f in formats})


@pytest.mark.parametrize("region", REGIONS)
def test_each_regions_example_numbers_read_as_phonenumbers_reads_them(region: str) -> None:
    texts = example_texts()
    assert len(texts) > 2000
    answered = sum(assert_same(text, region) for text in texts)
    assert answered > 0  # +1 examples in E.164 and international format are fast everywhere


def test_a_region_outside_the_plan_keeps_national_numbers_for_phonenumbers() -> None:
    fast = _plain_nanp("GB")
    assert fast is not None
    assert fast("(212) 555-0123") is None  # a British reading of ten digits is phonenumbers' to give
    assert fast("+1 212 555 0123") == "+12125550123"


def test_the_ten_digit_check_is_phonenumbers_check_for_the_main_region() -> None:
    """``_valid_ten_digits`` against is_valid_number_for_region on 100,000 random numbers and
    every area code with a few exchanges (most random ones are invalid, these mostly valid)."""
    from random import Random

    from clinicsync.mappings.transforms import _valid_ten_digits

    main = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1][0]
    valid = _valid_ten_digits(phonenumbers.PhoneMetadata.metadata_for_region(main))
    rng = Random(32)
    numbers = [f"{rng.randrange(10**9, 10**10)}" for _ in range(100_000)]
    numbers += [f"{area}{exchange}{rng.randrange(10_000):04d}" for area in range(200, 1000)
                for exchange in (200, 555, 911, 958, 976)]
    agree = [valid(n) == phonenumbers.is_valid_number_for_region(
        phonenumbers.PhoneNumber(country_code=1, national_number=int(n)), main) for n in numbers]
    assert all(agree)
    assert 1000 < sum(valid(n) for n in numbers) < len(numbers)
