"""What the front desk sees of a patient: initials and masked contact details."""

from __future__ import annotations

import re

import phonenumbers

from clinicsync.sync.calendar.desired import initials

DOT = "•••"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

__all__ = ["initials", "is_contact_detail", "mask_email", "mask_phone", "mask_text", "phone_display"]


def mask_phone(phone: str | None) -> str:
    """'+15551230123' → '+1 ••• ••• 0123': the country and the last four digits only."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    last = digits[-4:] if len(digits) > 4 else ""
    country = ""
    if phone.startswith("+"):
        try:
            country = f"+{phonenumbers.parse(phone, None).country_code} "
        except phonenumbers.NumberParseException:
            country = ""
    return f"{country}{DOT} {DOT} {last}".strip()


def mask_email(email: str | None) -> str:
    """'alice@example.com' → 'a•••@example.com'."""
    if not email:
        return ""
    local, sep, domain = email.partition("@")
    if not sep:
        return DOT
    return f"{local[:1]}{DOT}@{domain}"


def mask_text(text: str | None, region: str = "US") -> str:
    """Free text (a quarantine reason, an error) with any email or phone number in it masked.
    Phone numbers are found by libphonenumber's matcher, which leaves dates and times alone."""
    if not text:
        return ""
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    matches = list(phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE))
    for match in reversed(matches):
        text = text[:match.start] + mask_phone(match.raw_string) + text[match.end:]
    return text


def is_contact_detail(value: str, region: str = "US") -> bool:
    """Whether a whole value (a record id) is an email address or a valid phone number, not an
    id that merely holds one's digits: libphonenumber's lenient matcher, right for free text,
    finds a "possible" number in ids such as 'NA-2026-11-0001'."""
    if _EMAIL.search(value):
        return True
    if re.search(r"[A-Za-z]", value):
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(value, region))
    except phonenumbers.NumberParseException:
        return False


def phone_display(phone: str | None) -> str:
    if not phone:
        return ""
    try:
        return phonenumbers.format_number(phonenumbers.parse(phone, None),
                                          phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return phone
