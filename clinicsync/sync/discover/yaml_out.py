"""YAML out of source text, as data: PyYAML's safe emitter with two rules of its own, and
comments that cannot end early.

The emitter alone is not enough for line-by-line files with comments: it keeps U+2028, U+2029
and NEL inside single quotes and folds a long or multi-line value over several lines, so a
comment written after "the line" can land inside a value, and a YAML 1.1 reader (PyYAML)
takes U+2028 in a comment as the end of the comment. Here every string holding a line break
other than a plain '\\n' in a query, a control character or a BOM is written double-quoted
(the emitter then escapes it: ``"a\\u2028b"``), lines are never folded, and ``comment``
escapes everything that is not printable text. Each emitted entry is therefore whole on its
own lines, and any text after its first line is a comment.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

# Characters YAML reads as a line break, or refuses / cannot show in plain text: C0/C1
# controls (tab and CR among them), NEL, the line and paragraph separators, the BOM,
# surrogates and the two non-characters PyYAML's reader rejects.
_NOT_PLAIN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")
_NEVER_FOLD = 2**31  # the emitter's line width: a value is never folded onto a second line


class _Literal(str):
    """A multi-line value best read as a block (a query): ``|`` when YAML can keep it exactly."""


class _Flow(dict[Any, Any]):
    """A mapping written on one line ({from: x}), as the mapping files write a field."""


class _FlowList(list[Any]):
    """A list written on one line ([a, b])."""


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # the same spec under two keys is written twice, never as &id001/*id001


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = None
    if _NOT_PLAIN.search(data) or ("\n" in data and not isinstance(data, _Literal)):
        style = '"'
    elif "\n" in data:
        style = "|"  # the emitter falls back to double quotes when a block cannot keep the text
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style=style)


def _represent_flow(dumper: yaml.SafeDumper, data: dict[Any, Any]) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", dict(data), flow_style=True)


def _represent_flow_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", list(data), flow_style=True)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_Literal, _represent_str)
_Dumper.add_representer(_Flow, _represent_flow)
_Dumper.add_representer(_FlowList, _represent_flow_list)


def _dump(data: Any, flow: bool | None) -> str:
    text = yaml.dump(data, Dumper=_Dumper, default_flow_style=flow, allow_unicode=True, width=_NEVER_FOLD,
                     sort_keys=False)
    return text.removesuffix("\n...\n").removesuffix("\n")


def inline(value: Any) -> str:
    """One value as a YAML scalar or flow collection on one line (for a comment that shows it,
    or a key written by hand): ``en espera``, ``'#1'``, ``"a\\u2028b"``."""
    return _dump(value, True)


def entry(key: str, value: Any, flow: bool = True, literal: bool = False) -> list[str]:
    """``key: value`` as emitted lines (no trailing newline): one line, or a ``? key`` / ``:``
    pair for a key too long to be a simple key; a mapping or list value on one line with
    ``flow``, as a block below the key without; a multi-line string as a ``|`` block with
    ``literal`` (a query), else double-quoted. A string with leading or trailing white space
    (a column named only a line break) is double-quoted even with ``literal``: a ``|`` block
    cannot keep it and the comment that follows the entry."""
    if isinstance(value, str) and literal and "\n" in value and value == value.strip():
        value = _Literal(value)
    elif isinstance(value, dict) and flow:
        value = _Flow(value)
    elif isinstance(value, list) and flow:
        value = _FlowList(value)
    return _dump({key: value}, False).split("\n")


def comment(text: Any) -> str:
    """Text for a YAML comment: printable characters and the plain space kept, any other
    (line feed, CR, tab, NEL, U+2028/2029, BOM, other controls and format characters)
    written as its escape (``\\n``, ``\\u2028``), so the comment ends where the line does."""
    out = []
    for char in str(text):
        if char == " " or char.isprintable():
            out.append(char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        else:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)
