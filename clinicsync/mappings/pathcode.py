"""Python source for a path of paths.py, as straight-line code: one nested loop per step
over one JSON object at a time, the first usable value returned as soon as it is found.

The interpreted getters (paths.py) build a list of every value at each step and filter the
lists; for the first value of ``_patient.telecom[system=phone][use=mobile].value`` that is
six lists and a dozen calls per record. The generated function visits values in the same
order (a step maps each value to its children in order, so the interpreted lists are the
depth-first order of this walk) and applies the same rules: a list is flattened, a key
filter keeps the items whose key reads as the operand (JSON booleans as true/false), an
index picks from one value's items, and a value of None or "" is no value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clinicsync.mappings.paths import _child, _text, column_name, compile_path, parse_filter, parse_steps

# What generated path code refers to by name (the module namespace it is executed in).
PATH_NAMESPACE: dict[str, Any] = {"_child": _child, "_text": _text, "_EMPTY": (None, "")}


class Constants:
    """Values generated code needs that have no literal (getters, converters): each gets a
    name in the namespace the code is executed in."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace

    def bind(self, value: Any, stem: str = "_c") -> str:
        name = f"{stem}{len(self.namespace)}"
        self.namespace[name] = value
        return name


def _key_read(var: str, key: str, constants: Constants) -> str:
    """An expression reading filter key ``key`` of item ``var`` (compile_path's rule)."""
    column = column_name(key)
    if column is None:  # a nested key: the interpreted getter, bound once
        getter: Callable[[Any], Any] = compile_path(key)
        return f"{constants.bind(getter, '_g')}({var})"
    return f"({var}.get({column!r}) if type({var}) is dict else _child({var}, {column!r}))"


def _predicate(var: str, expr: str, constants: Constants) -> str:
    kind, key, operand = parse_filter(expr)
    read = _key_read(var, key, constants)
    if kind == "prefix":
        return f"str({read} or '').startswith({operand!r})"
    if kind == "not":
        return f"_text({read}) != {operand!r}"
    return f"_text({read}) == {operand!r}"


def path_source(path: str, function: str, first: bool, constants: Constants) -> str:
    """``def function(record)``: the first usable value at ``path`` or None (``first``), else
    the list of every usable value in order (compile_values)."""
    steps = parse_steps(path)
    lines = [f"def {function}(v0):"]
    if not first:
        lines.append("    out = []")

    def emit(index: int, var: str, indent: str) -> None:
        if index == len(steps):
            action = f"return {var}" if first else f"out.append({var})"
            lines.append(f"{indent}if {var} not in _EMPTY:")
            lines.append(f"{indent}    {action}")
            return
        name, exprs = steps[index]
        got = f"w{index + 1}"
        if name is None:
            lines.append(f"{indent}{got} = {var}")
        else:
            lines.append(f"{indent}{got} = {var}.get({name!r}) if type({var}) is dict else _child({var}, {name!r})")
        lines.append(f"{indent}if {got} is not None:")
        inner = indent + "    "
        item = f"v{index + 1}"
        if not exprs:
            if index + 1 == len(steps):  # the last step: no loop for the usual single value
                action = f"return {got}" if first else f"out.append({got})"
                lines.append(f"{inner}if isinstance({got}, list):")
                lines.append(f"{inner}    for {item} in {got}:")
                emit(index + 1, item, inner + "        ")
                lines.append(f"{inner}elif {got} not in _EMPTY:")
                lines.append(f"{inner}    {action}")
                return
            lines.append(f"{inner}for {item} in ({got} if isinstance({got}, list) else ({got},)):")
            emit(index + 1, item, inner + "    ")
            return
        items = f"items{index + 1}"
        lines.append(f"{inner}{items} = {got} if isinstance({got}, list) else [{got}]")
        # Filters up to the last index filter narrow the list; the key filters after it test
        # each item in the loop (a run of key filters keeps the items all of them keep).
        last_index = max((i for i, e in enumerate(exprs) if parse_filter(e)[0] == "index"), default=-1)
        for expr in exprs[:last_index + 1]:
            kind, _key, operand = parse_filter(expr)
            if kind == "index":
                at = int(operand)
                lines.append(f"{inner}{items} = [{items}[{at}]] if -len({items}) <= {at} < len({items}) else []")
            else:
                lines.append(f"{inner}{items} = [i for i in {items} if {_predicate('i', expr, constants)}]")
        lines.append(f"{inner}for {item} in {items}:")
        body = inner + "    "
        for expr in exprs[last_index + 1:]:
            lines.append(f"{body}if not ({_predicate(item, expr, constants)}):")
            lines.append(f"{body}    continue")
        emit(index + 1, item, body)

    emit(0, "v0", "    ")
    lines.append("    return None" if first else "    return out")
    return "\n".join(lines) + "\n"
