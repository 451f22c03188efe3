"""SMS segment arithmetic: GSM-7 when every character is in the GSM 03.38 alphabet
(160 per single message, 153 per part), else UCS-2 (70, or 67 per part).

Kept rather than a library: the alphabet below matches the maintained
``gsm0338`` codec character for character (checked over the whole BMP), and GSM 03.38 is
frozen, so the codec would add a dependency for two constants; the segment arithmetic no
maintained package offers (``smsutil`` was last released in 2020, ``sms-counter`` is a 0.0.1).
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")  # each takes two septets (escape + character)
# Latin letters that no decomposition takes to a GSM-7 letter.
_LATIN_FOLD = {"\u0131": "i", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ħ": "h", "Ħ": "H", "œ": "oe", "Œ": "OE",
               "ŀ": "l", "Ŀ": "L", "ŧ": "t", "Ŧ": "T", "ĸ": "k"}


@dataclass(frozen=True)
class SmsSize:
    encoding: str  # GSM-7 | UCS-2
    units: int  # septets, or UTF-16 code units
    segments: int


def sms_size(text: str) -> SmsSize:
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in text):
        units = len(text) + sum(1 for c in text if c in GSM_EXTENDED)
        return SmsSize("GSM-7", units, 1 if units <= 160 else math.ceil(units / 153))
    units = len(text.encode("utf-16-le")) // 2
    return SmsSize("UCS-2", units, 1 if units <= 70 else math.ceil(units / 67))


def _fold(char: str) -> str:
    if char in GSM_BASIC or char in GSM_EXTENDED:
        return char
    if char in _LATIN_FOLD:
        return _LATIN_FOLD[char]
    base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    return base if base and all(c in GSM_BASIC for c in base) else char


def gsm_plain(text: str) -> str:
    """``text`` in GSM-7 when dropping accents the alphabet lacks gets it there ("sáb" ->
    "sab", "Lucía" -> "Lucia", "Çağla" -> "Çagla"; é, ñ, ü, Ç stay, being GSM-7), else
    ``text`` unchanged. One accent outside GSM-7 turns a whole SMS into UCS-2 (70
    characters a segment, not 160); when another character (Cyrillic, Greek small letters,
    an emoji) needs UCS-2 anyway, the accents cost nothing and are kept. As carriers'
    "smart encoding" does; names stay readable without their accents."""
    folded = "".join(_fold(c) for c in text)
    return folded if all(c in GSM_BASIC or c in GSM_EXTENDED for c in folded) else text
