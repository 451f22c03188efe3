"""A patient's consent to texts or emails, as practice systems keep it: a yes/no column on the
patient (``sms_opt_in``, ``hipaa_allowsms``, ``TxtMsgOk``, ``email_consent``) or its opposite
(``sms_opt_out``, ``no_text``, ``email_unsubscribed``). Placed on ``patient.allow_sms`` /
``patient.allow_email`` so a patient who said no is not messaged on that channel.

Why its own rules: such a column names a channel ("sms", "email") and so reads as a phone or
an email by its words, while its values are yes/no. Left unplaced, every patient counts as
consenting (the fields' default), which is the one wrong guess a clinic cannot take back. A
consent word without a channel ("consent", "agree") is left alone: it may be consent to
treatment, not to messages. The patient's channel column (``Text``, ``Do not contact``) is read
here too: the channel a patient agreed to be reached on, in the mapping's words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from clinicsync.common.names import plain
from clinicsync.common.vocabulary import CHANNELS, status_key
from clinicsync.mappings.transforms import TransformError, as_boolean
from clinicsync.sync.discover.values import filled
from clinicsync.sync.discover.vocab import CHANNEL_WORDS

_YES = ("1", "true", "yes", "y", "t", "on")  # as_boolean's words: the map of a refusal column lists every one
_NO = ("0", "false", "no", "n", "f", "off")
_AGREES = re.compile(r"optin|allow|consent|permi|autori[sz]|accept|agree|ok$|okay")
_REFUSES = re.compile(r"optout|unsub|donot|dontcontact|dnc|refus|blocked|nosms|notext|notxt|noemail|nomail")
_TEXTS = re.compile(r"sms|text|txt|msg|message|mensaje|whatsapp|cell|mobile|movil|celular|phone|tel")
_MAILS = re.compile(r"e?mail|correo|courriel")
FLOOR = 0.9  # share of sampled values that must read as yes/no


def consent_field(tokens: Sequence[str]) -> tuple[str, bool] | None:
    """(field, refusal) for a column whose words say consent to a channel, else None. ``refusal``:
    the column says no (``sms_opt_out``): its yes means the patient may not be messaged."""
    joined = "".join(tokens)
    refusal = bool(_REFUSES.search(joined))
    if not refusal and not _AGREES.search(joined):
        return None
    if _MAILS.search(joined):
        return "patient.allow_email", refusal
    if _TEXTS.search(joined):
        return "patient.allow_sms", refusal
    return None


def yes_no_share(values: Sequence[str | None]) -> tuple[float, int]:
    """The share of non-empty sampled values that read as yes/no (as the mapping reads them),
    and how many were non-empty."""
    present = filled(values)
    if not present:
        return 0.0, 0
    read = 0
    for value in present:
        try:
            as_boolean(value)
        except TransformError:
            continue
        read += 1
    return read / len(present), len(present)


def consent_spec(path: str, refusal: bool) -> dict[str, Any]:
    """The field's spec: read as yes/no; a refusal column's every yes/no word turned round, so a
    value the sample did not show is still read the right way. An unreadable value is dropped
    with a note (an optional field), not a reason to refuse the visit."""
    spec: dict[str, Any] = {"from": path, "on_invalid": "drop"}
    if refusal:
        spec["map"] = {**dict.fromkeys(_YES, False), **dict.fromkeys(_NO, True)}
    return spec


def blank_note(column: str, values: Sequence[str | None], field: str) -> str | None:
    """A note when some sampled patients have no value: they count as consenting (the field's
    default), which the admin may want the other way."""
    empty = sum(1 for v in values if v is None or not v.strip())
    if not empty:
        return None
    return (f"{column}: empty on {empty} of {len(values)} sampled rows; those patients count as consenting "
            f"({field} unset is yes): add `default: false` to {field} if the source means no")


def channel_map(values: Sequence[str | None]) -> dict[str, Any]:
    """The channel column's own words mapped (``Text`` -> sms, ``Do not contact`` -> none);
    a word not known stays out of the map, so its value is dropped with a note. No map when
    the column already holds the mapping's own words."""
    table: dict[str, str] = {}
    for value in {v.strip() for v in values if v is not None and v.strip()}:
        word = plain(status_key(value))
        channel = word if word in CHANNELS else CHANNEL_WORDS.get(word)
        if channel is not None:
            table[value] = channel
    return {"map": dict(sorted(table.items()))} if any(k.lower() != v for k, v in table.items()) else {}
