"""HL7 v2 messages (python-hl7) into plain records a mapping can read.

A record holds each segment by its id, each field by its number (``SCH.2``), each
component and subcomponent by theirs (``PID.5.1.1``). A segment or field that repeats
is a list; paths read the first non-empty one (``AIL.3.1``) or pick one (``AIL[0]``,
``PID.3[5=MR].1``). As in HL7, a field or component read as a whole gives its first
component: ``SCH.2`` and ``SCH.2.1`` are both the filler appointment id, whether the
sender wrote ``36996`` or ``36996^EPIC``. Escapes (\\F\\, \\S\\, …) are undone and the
HL7 null ``""`` counts as empty.

Beside the segments a record carries ``message_type`` (MSH-9.1), ``event`` (MSH-9.2),
``control_id`` (MSH-10) and ``message`` (the text, for quarantine). Segment separators
may be ``\\r`` (the standard), ``\\n`` or ``\\r\\n``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import hl7
import hl7.util

_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")
_MESSAGE_TYPE = re.compile(r"[A-Z][A-Z0-9]{2}")  # HL7 table 0076: ADT, ORM, SIU, …
_LINE_BREAKS = re.compile(r"\r\n|\n|\r")
_ENVELOPE = ("FHS", "BHS", "BTS", "FTS")  # batch-file wrapping, not messages
_HL7_NULL = '""'
# python-hl7 logs a field it cannot unescape (e.g. "Smith\\Zz\\") verbatim, with a
# traceback, through the root logger's last resort: field text is patient data. It drops
# the bad sequence from the value either way, so silencing it loses nothing. (Its logger
# is named after the file, not the module.)
hl7.util.logger.setLevel(logging.CRITICAL)


class Hl7Value(str):
    """A field, repetition or component: reads as its first component (HL7's rule for a
    reader that expects a simple value) and opens by number like a mapping (for paths)."""

    __slots__ = ("parts",)
    parts: dict[str, Any]

    def __new__(cls, parts: dict[str, Any]) -> Hl7Value:
        value = super().__new__(cls, str(parts.get("1", "")))
        value.parts = parts
        return value

    def get(self, key: str, default: Any = None) -> Any:
        return self.parts.get(key, default)


Mapping.register(Hl7Value)  # paths step into mappings; a str subclass is one only by registration


class Hl7ParseError(ValueError):
    """A message that cannot be read (answered AR). The reason never quotes the content;
    ``message`` is set when MSH was readable, so the ACK can name the control id."""

    def __init__(self, reason: str, message: hl7.Message | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ParsedMessage:
    message: hl7.Message
    record: dict[str, Any]
    message_type: str
    event: str
    control_id: str
    sender: str  # MSH-3^MSH-4: control ids are unique per sending application


def decode(data: bytes, encoding: str) -> str:
    """Bytes as the sender wrote them: ``auto`` is UTF-8, else Windows-1252 (which every
    byte sequence decodes as, so only a named strict encoding can fail). NUL never belongs
    to HL7 text and PostgreSQL cannot store it, so it is dropped."""
    if encoding != "auto":
        text = data.decode(encoding)
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
    return text.replace("\x00", "")


def type_problem(parsed: ParsedMessage) -> str | None:
    """Why this is no message for an SIU interface, or None."""
    if parsed.message_type != "SIU":
        # Quoted only when it is a type code: the field is the sender's text, and a reason never quotes content.
        shown = parsed.message_type if _MESSAGE_TYPE.fullmatch(parsed.message_type) else (
            "(not a message type code)" if parsed.message_type else "(empty)")
        return f"unsupported message type {shown} (this interface takes SIU)"
    return None


def split_messages(text: str) -> list[str]:
    """A batch file's messages, each with ``\\r`` separators. File and batch envelopes
    (FHS/BHS/BTS/FTS) are dropped; segments before the first MSH come back as one chunk
    of their own, which then fails to parse and is rejected rather than lost."""
    chunks: list[list[str]] = []
    for line in _LINE_BREAKS.split(text):
        segment = line.strip()
        if not segment or segment.startswith(_ENVELOPE):
            continue
        if segment.startswith("MSH") or not chunks:
            chunks.append([segment])
        else:
            chunks[-1].append(segment)
    return ["\r".join(chunk) + "\r" for chunk in chunks]


def parse_message(text: str) -> ParsedMessage:
    """Parse one message; raise Hl7ParseError for what is not a readable HL7 v2 message."""
    normalized = "\r".join(s.strip() for s in _LINE_BREAKS.split(text.strip()) if s.strip())
    if not normalized.startswith("MSH") or len(normalized) < 8 or normalized[3] in "\r ":
        raise Hl7ParseError("not an HL7 v2 message (it does not start with an MSH segment)")
    try:
        message = hl7.parse(normalized)
    except Exception:  # python-hl7 raises several kinds on malformed text; all mean "unreadable"
        raise Hl7ParseError("unreadable HL7 message (MSH-1/MSH-2 separators)") from None
    msh = message[0]
    for number, segment in enumerate(message, start=1):
        if not _SEGMENT_ID.fullmatch(str(segment[0])):
            raise Hl7ParseError(f"segment {number} has no valid segment id",
                                None if number == 1 else message)
    if len(msh) < 13 or len(str(msh[2])) < 3:
        raise Hl7ParseError("MSH is too short: it needs the fields up to MSH-12 (version)", message)
    record = to_record(message)
    header = record["MSH"]
    message_type = _text(header, "9", "1")
    event = _text(header, "9", "2")
    control_id = _text(header, "10")
    sender = "^".join((_text(header, "3"), _text(header, "4")))[:255]  # the length hl7message keeps
    record.update(message_type=message_type, event=event, control_id=control_id, message=normalized)
    return ParsedMessage(message, record, message_type, event, control_id, sender)


def to_record(message: hl7.Message) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for segment in message:
        name = str(segment[0])
        fields: dict[str, Any] = {}
        for number in range(1, len(segment)):
            if name == "MSH" and number <= 2:
                fields[str(number)] = str(segment[number])  # the separators themselves
                continue
            value = _field(message, segment[number])
            if value is not None:
                fields[str(number)] = value
        _add(record, name, fields)
    return record


def _add(record: dict[str, Any], key: str, value: Any) -> None:
    """One occurrence is a value, several a list (paths read both alike)."""
    if key not in record:
        record[key] = value
    elif isinstance(record[key], list):
        record[key].append(value)
    else:
        record[key] = [record[key], value]


def _leaf(message: hl7.Message, text: str) -> str | None:
    text = str(text)
    if not text or text == _HL7_NULL:
        return None
    return str(message.unescape(text)) if message.esc in text else text


def _node(parts: dict[str, Any]) -> Hl7Value | None:
    return Hl7Value(parts) if parts else None


def _component(message: hl7.Message, component: Any) -> Hl7Value | None:
    if isinstance(component, str):
        leaf = _leaf(message, component)
        return None if leaf is None else Hl7Value({"1": leaf})
    parts = {str(i): leaf for i, sub in enumerate(component, start=1) if (leaf := _leaf(message, sub))}
    return _node(parts)


def _repetition(message: hl7.Message, repetition: Any) -> Hl7Value | None:
    items = [repetition] if isinstance(repetition, str) else list(repetition)
    parts = {str(i): node for i, item in enumerate(items, start=1) if (node := _component(message, item))}
    return _node(parts)


def _field(message: hl7.Message, field: Any) -> Hl7Value | list[Hl7Value] | None:
    if len(field) and not isinstance(field[0], str):
        reps = [node for rep in field if (node := _repetition(message, rep)) is not None]
    else:
        node = _repetition(message, str(field[0]) if len(field) else "")
        reps = [node] if node is not None else []
    if not reps:
        return None
    return reps[0] if len(reps) == 1 else reps


def _text(segment: Mapping[str, Any], field: str, component: str | None = None) -> str:
    value = segment.get(field)
    if isinstance(value, list):
        value = value[0]
    if value is None:
        return ""
    if component is not None:
        value = value.get(component) if isinstance(value, Hl7Value) else (value if component == "1" else None)
    return str(value or "").strip()
