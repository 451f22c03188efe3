"""SMS segment arithmetic: GSM-7 when every character is in the GSM 03.38 alphabet
(160 per single message, 153 per part), else UCS-2 (70, or 67 per part).

Kept rather than a library (issue 23): the alphabet below matches the maintained
``gsm0338`` codec character for character (checked over the whole BMP), and GSM 03.38 is
frozen, so the codec would add a dependency for two constants; the segment arithmetic no
maintained package offers (``smsutil`` was last released in 2020, ``sms-counter`` is a 0.0.1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")  # each takes two septets (escape + character)


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
