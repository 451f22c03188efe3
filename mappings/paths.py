"""A small path language to read fields out of flat rows and nested resources.

``start`` reads a column; ``telecom[system=phone][use=mobile].value`` walks JSON;
``participant[actor.reference^=Patient/].actor.reference`` filters by prefix;
``telecom[use!=old]`` excludes; ``communication[preferred=true]`` matches a JSON boolean;
``identifier[0].value`` indexes. A path compiles once into a getter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Getter = Callable[[Any], Any]
_SEGMENT = re.compile(r"([^.\[\]]+)?((?:\[[^\]]*\])*)")
_BRACKET = re.compile(r"\[([^\]]*)\]")


def split_path(path: str) -> list[str]:
    """A path's dot-separated segments, brackets kept whole: ``a[b.c=1].d`` -> ['a[b.c=1]', 'd']."""
    parts, depth, current = [], 0, ""
    for char in path:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "." and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _text(value: Any) -> str:
    """How a filter sees a value: JSON booleans as written in JSON (true/false)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _filter(expr: str) -> Callable[[list[Any]], list[Any]]:
    if expr.lstrip("-").isdigit():
        index = int(expr)
        return lambda items: [items[index]] if -len(items) <= index < len(items) else []
    if "^=" in expr:
        key, prefix = expr.split("^=", 1)
        get = compile_path(key)
        return lambda items: [i for i in items if str(get(i) or "").startswith(prefix)]
    if "!=" in expr:
        key, unwanted = expr.split("!=", 1)
        get = compile_path(key)
        return lambda items: [i for i in items if _text(get(i)) != unwanted]
    if "=" in expr:
        key, wanted = expr.split("=", 1)
        get = compile_path(key)
        return lambda items: [i for i in items if _text(get(i)) == wanted]
    raise ValueError(f"bad filter [{expr}]: use [N], [key=value], [key!=value] or [key^=prefix]")


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


def compile_values(path: str) -> Callable[[Any], list[Any]]:
    """Return a function giving every non-empty value at ``path``, lists flattened, in order
    (``name[0].given`` -> ["Peter", "James"])."""
    steps = []
    for part in split_path(path):
        match = _SEGMENT.fullmatch(part)
        if match is None:
            raise ValueError(f"bad path segment {part!r} in {path!r}")
        filters = [_filter(expr) for expr in _BRACKET.findall(match.group(2) or "")]
        steps.append(_step(match.group(1), filters))

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
    if not any(c in path for c in ".[]"):
        def column(record: Any) -> Any:  # the hot path of flat rows: a dict is the common case
            return record.get(path) if type(record) is dict or isinstance(record, Mapping) else None

        return column
    get_all = compile_values(path)

    def get(record: Any) -> Any:
        values = get_all(record)
        return values[0] if values else None

    return get
