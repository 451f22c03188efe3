"""`clinic.default_region` is checked against a written-out copy of phonenumbers' regions, so
reading the settings need not import phonenumbers (issue 31, obs 6). The copy must be the set
the installed phonenumbers reads numbers for, or a region would be refused (or accepted) that
phonenumbers treats otherwise."""

from __future__ import annotations

import textwrap

import phonenumbers
import pytest
from pydantic import ValidationError

from clinicsync.common.phone_regions import PHONE_REGIONS
from clinicsync.sync.config.clinic import ClinicSettings


def test_the_copy_is_phonenumbers_own_set() -> None:
    body = textwrap.fill(" ".join(sorted(phonenumbers.SUPPORTED_REGIONS)), 100, initial_indent="    ",
                         subsequent_indent="    ")
    assert PHONE_REGIONS == phonenumbers.SUPPORTED_REGIONS, f"paste into common/phone_regions.py:\n{body}"


def test_a_region_is_checked_as_before() -> None:
    assert ClinicSettings(default_region="es").default_region == "ES"
    with pytest.raises(ValidationError, match="unknown phone region 'ZZ'"):
        ClinicSettings(default_region="zz")


def test_the_clinics_phone_is_still_formatted_by_phonenumbers() -> None:
    clinic = ClinicSettings(default_region="US", phone="212 555 0100")
    assert clinic.phone_display() == ("(212) 555-0100", "tel:+12125550100")
