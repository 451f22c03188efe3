"""Phone addresses as providers take them: E.164 only, checked before anything is sent."""

from __future__ import annotations

from clinicsync.notifiers.base import PermanentError

WHATSAPP_PREFIX = "whatsapp:"


def e164(value: str) -> str:
    """The number in E.164 (``+14155550123``), or ValueError with a reason that does not echo it.

    A number without ``+country`` is refused rather than guessed: by the time a message
    is built, mappings/ has already normalized numbers with the clinic's region.
    """
    text = value.strip()
    if text.lower().startswith(WHATSAPP_PREFIX):
        text = text[len(WHATSAPP_PREFIX):].strip()
    if not text.startswith("+"):
        raise ValueError("not an E.164 phone number (it must start with + and the country code)")
    import phonenumbers  # on the first number, not with the notifier settings: `status` need not import phonenumbers

    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def recipient_phone(recipient: str) -> str:
    """The message's recipient as E.164, or PermanentError: a bad number never becomes valid."""
    try:
        return e164(recipient)
    except ValueError as exc:
        raise PermanentError(f"recipient phone number refused before sending: {exc}") from None
