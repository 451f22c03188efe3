"""What the front desk sees of a patient: initials and masked contact details."""

from __future__ import annotations

import re

import phonenumbers

from clinicsync.sync.calendar.desired import initials

DOT = "•••"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

__all__ = ["initials", "mask_email", "mask_phone", "mask_text", "phone_display"]


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


def phone_display(phone: str | None) -> str:
    if not phone:
        return ""
    try:
        return phonenumbers.format_number(phonenumbers.parse(phone, None),
                                          phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return phone
