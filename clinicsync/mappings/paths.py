"""A small path language to read fields out of flat rows and nested resources.

``start`` reads a column; ``telecom[system=phone][use=mobile].value`` walks JSON;
``participant[actor.reference^=Patient/].actor.reference`` filters by prefix;
``telecom[use!=old]`` excludes; ``communication[preferred=true]`` matches a JSON boolean;
``identifier[0].value`` indexes. A name in backticks is taken as written, dots, brackets
and spaces included: `` `sched.Start Date` `` reads the column ``sched.Start Date`` (a
vendor's documented CSV columns contain dots). A path compiles once into a getter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Getter = Callable[[Any], Any]
_SEGMENT = re.compile(r"([^.\[\]]+)?((?:\[[^\]]*\])*)")
_BRACKET = re.compile(r"\[([^\]]*)\]")
_BRACKETS_ONLY = re.compile(r"(?:\[[^\]]*\])+")


QUOTE = "`"


def quoted_name(path: str) -> str | None:
    """The column a whole-path quote names (`` `a.b c` `` -> ``a.b c``), else None."""
    if len(path) >= 2 and path[0] == QUOTE and path[-1] == QUOTE and QUOTE not in path[1:-1]:
        return path[1:-1]
    return None


def top_column(path: str) -> str:
    """The column (top-level key) a path starts from, quotes undone."""
    first = split_path(path)[0]
    if first.startswith(QUOTE):
        return first[1:first.index(QUOTE, 1)] if QUOTE in first[1:] else first[1:]
    return first.split("[")[0]


def split_path(path: str) -> list[str]:
    """A path's dot-separated segments, brackets and `quoted names` kept whole:
    ``a[b.c=1].`x.y`.d`` -> ['a[b.c=1]', '`x.y`', 'd']."""
    parts, depth, current, quoted = [], 0, "", False
    for char in path:
        if char == QUOTE and depth == 0:
            quoted = not quoted
        elif quoted:
            pass
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "." and depth == 0 and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _text(value: Any) -> str:
    """How a filter sees a value: JSON booleans as written in JSON (true/false)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


Filter = tuple[str, str, str]  # (kind, key, operand): ("index", "", "-1"), ("prefix" | "not" | "is", key, text)


def parse_filter(expr: str) -> Filter:
    """What a bracket says: ``[N]`` an index, ``[key^=prefix]``, ``[key!=value]``, ``[key=value]``
    (tried in that order, the first ``^=``, ``!=`` or ``=`` splitting). Shared by the
    interpreted getters here and the generated code (pathcode.py), so both read alike."""
    if expr.lstrip("-").isdigit():
        int(expr)  # "--1" passes the test above but is no index
        return ("index", "", expr)
    for kind, operator in (("prefix", "^="), ("not", "!="), ("is", "=")):
        if operator in expr:
            key, operand = expr.split(operator, 1)
            return (kind, key, operand)
    raise ValueError(f"bad filter [{expr}]: use [N], [key=value], [key!=value] or [key^=prefix]")


def _filter(expr: str) -> Callable[[list[Any]], list[Any]]:
    kind, key, operand = parse_filter(expr)
    if kind == "index":
        index = int(operand)
        return lambda items: [items[index]] if -len(items) <= index < len(items) else []
    get = compile_path(key)
    if kind == "prefix":
        return lambda items: [i for i in items if str(get(i) or "").startswith(operand)]
    if kind == "not":
        return lambda items: [i for i in items if _text(get(i)) != operand]
    return lambda items: [i for i in items if _text(get(i)) == operand]


def _child(value: Any, name: str) -> Any:
    """``value[name]`` for a JSON object, else None. Plain dicts (what JSON parsing gives) skip
    the ABC isinstance check, which costs more than the lookup itself on this hot path."""
    if type(value) is dict:
        return value.get(name)
    return value.get(name) if isinstance(value, Mapping) else None


def _step(name: str | None, filters: list[Callable[[list[Any]], list[Any]]]) -> Callable[[list[Any]], list[Any]]:
    if not filters and name is not None:
        def walk(values: list[Any]) -> list[Any]:  # most steps: a key, no filter
            out: list[Any] = []
            for value in values:
                value = _child(value, name)
                if value is None:
                    continue
                if isinstance(value, list):
                    out.extend(value)
                else:
                    out.append(value)
            return out

        return walk

    def run(values: list[Any]) -> list[Any]:
        out: list[Any] = []
        for value in values:
            if name is not None:
                value = _child(value, name)
            if value is None:
                continue
            items = value if isinstance(value, list) else [value]
            for keep in filters:
                items = keep(items)
            out.extend(items)
        return out

    return run


def parse_steps(path: str) -> list[tuple[str | None, list[str]]]:
    """A path's steps: each a key (None for a bare ``[…]``) and its bracket expressions."""
    steps: list[tuple[str | None, list[str]]] = []
    for part in split_path(path):
        name: str | None
        if part.startswith(QUOTE):
            end = part.find(QUOTE, 1)
            if end < 0:
                raise ValueError(f"unclosed ` in {path!r}: quote a name as `name.with dots`")
            name, rest = part[1:end], part[end + 1:]
            if not name or (rest and not _BRACKETS_ONLY.fullmatch(rest)):
                raise ValueError(f"bad path segment {part!r} in {path!r}")
        else:
            match = _SEGMENT.fullmatch(part)
            if match is None:
                raise ValueError(f"bad path segment {part!r} in {path!r}")
            name, rest = match.group(1), match.group(2) or ""
        exprs = _BRACKET.findall(rest)
        for expr in exprs:  # a bad filter is named before a later bad segment, as it always was
            _filter(expr)
        steps.append((name, exprs))
    return steps


def column_name(path: str) -> str | None:
    """The top-level key a path reads when it is just one (quoted or plain), else None."""
    name = quoted_name(path)
    if name is None and any(c in path for c in ".[]`"):
        return None
    return path if name is None else name


def compile_values(path: str) -> Callable[[Any], list[Any]]:
    """Return a function giving every non-empty value at ``path``, lists flattened, in order
    (``name[0].given`` -> ["Peter", "James"])."""
    steps = [_step(name, [_filter(expr) for expr in exprs]) for name, exprs in parse_steps(path)]

    def get_all(record: Any) -> list[Any]:
        values = [record]
        for step in steps:
            values = step(values)
            if not values:
                return []
        return [value for value in values if value not in (None, "")]

    return get_all


def compile_path(path: str) -> Getter:
    """Return a function giving the first non-empty value at ``path`` (or None)."""
    key = column_name(path)
    if key is None:
        get_all = compile_values(path)

        def get(record: Any) -> Any:
            values = get_all(record)
            return values[0] if values else None

        return get

    def column(record: Any) -> Any:  # the hot path of flat rows: a dict is the common case
        return record.get(key) if type(record) is dict or isinstance(record, Mapping) else None

    return column
