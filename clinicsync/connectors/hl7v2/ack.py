"""HL7 v2 acknowledgements (original mode): AA accepted, AE application error (the
message was read but not applied), AR rejected (unreadable or not for us). MSA-2
repeats the message's control id (MSH-10); MSA-3 says why, never quoting content."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import hl7
from hl7.util import escape, generate_message_control_id

AckCode = Literal["AA", "AE", "AR"]
APPLICATION = "clinicsync"
_TEXT_LIMIT = 80  # MSA-3 is ST 80 in v2.3-2.5


def _now() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")


def build_ack(code: AckCode, message: hl7.Message | None, text: str | None = None) -> str:
    """The ACK for ``message``, or a bare one when its MSH could not be read (or is too
    odd for python-hl7's create_ack: short, or MSH-9 without components), which still
    names the control id where there is one."""
    ack = _reply(code, message) if message is not None else None
    if ack is None:
        ack = hl7.parse(f"MSH|^~\\&|{APPLICATION}||||{_now()}||ACK|{generate_message_control_id()}|P|2.5\r"
                        f"MSA|{code}|")
        control_id = _control_id(message)
        if control_id:
            ack.segment("MSA").assign_field(escape(ack, control_id), 2)
    if text:
        msa = ack.segment("MSA")
        msa.assign_field(escape(ack, text[:_TEXT_LIMIT]), 3)
    return str(ack)


def _reply(code: AckCode, message: hl7.Message) -> hl7.Message | None:
    try:
        source_msh = message.segment("MSH")
        application = str(source_msh(5)) or APPLICATION
        ack = message.create_ack(code, application=application)
    except (IndexError, KeyError, TypeError, ValueError):
        return None
    ack.segment("MSH").assign_field(_now(), 7)
    return ack


def _control_id(message: hl7.Message | None) -> str:
    try:
        return str(message.segment("MSH")(10)) if message is not None else ""
    except (IndexError, KeyError, TypeError, ValueError):
        return ""
