"""No patient phone number or email in a calendar event unless a template asks for it.

docs/calendar.md promises events without the patient's contact. Sources do not always keep
it apart: Cal.com writes an "Attendee Phone Number" booking's number into its location, a
desk types the patient's mobile into the room field, a telehealth source gives the
patient's own number as the one to dial. Whatever the field, a value that carries the
patient's phone (compared by its digits, whatever the formatting) or email is not shown in
the event's place, number to dial or visit type; ``patient_phone`` in a template is the one
way to show it.
"""

from __future__ import annotations

import re

from clinicsync.common.memo import kept

_NOT_DIGIT = re.compile(r"\D+")
_SIGNIFICANT = 8  # trailing digits compared: a number without its country code still matches


def _digits(value: str) -> str:
    return _NOT_DIGIT.sub("", value)


class PatientContact:
    """One patient's phone and email, to recognise in free text."""

    def __init__(self, phone: str | None, email: str | None) -> None:
        digits = _digits(phone or "")
        self.phone = digits[-_SIGNIFICANT:] if len(digits) >= _SIGNIFICANT else None
        self.email = email.strip().lower() if email and email.strip() else None

    def in_text(self, value: str | None) -> bool:
        if not value:
            return False
        if self.phone and self.phone in _digits(value):
            return True
        return bool(self.email and self.email in value.lower())

    def shown(self, value: str | None) -> str | None:
        """``value``, or None when it carries the patient's phone or email."""
        return None if self.in_text(value) else value


_FORMS_MEMO = 20_000  # distinct values kept per run (places, types, numbers to dial repeat)
_forms: dict[str, tuple[str, str]] = {}


def shown(value: str | None, phone: str | None, email: str | None) -> str | None:
    """``PatientContact(phone, email).shown(value)``, for many patients and few distinct
    values (a first push checks two or three fields of every appointment): each value's
    digits and lower case are worked out once per run, and the patient's phone only when
    the value holds enough digits to contain it (a place or a visit type seldom does)."""
    if not value:
        return value
    forms = _forms.get(value)
    if forms is None:
        digits = _digits(value)
        forms = kept(_forms, value, (digits if len(digits) >= _SIGNIFICANT else "", value.lower()), _FORMS_MEMO)
    digits, lower = forms
    if digits and phone:
        mine = _digits(phone)
        if len(mine) >= _SIGNIFICANT and mine[-_SIGNIFICANT:] in digits:
            return None
    if email and (email := email.strip()) and email.lower() in lower:
        return None
    return value
