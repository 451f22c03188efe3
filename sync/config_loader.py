"""Read settings.yaml into plain data, keeping line numbers and expanding ``${VAR}``.

Kept apart from the pydantic models so that every error, wherever it is found,
can name the YAML path *and* the line the IT person has to open.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """A settings problem: names each key and what is wrong. The CLI exits 2."""

    def __init__(self, problems: list[str], source: str = "settings") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: " + "; ".join(problems))

    def render(self) -> str:
        lines = [f"invalid configuration in {self.source}:"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


def format_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """('connectors', 0, 'drop_dir') -> 'connectors[0].drop_dir'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


@dataclass
class LoadedYaml:
    """The settings as plain data plus where each key was written."""

    data: Any
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)

    def line_of(self, loc: tuple[Any, ...]) -> int | None:
        """The line of the deepest known prefix of ``loc`` (1-based)."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None


def _construct(node: yaml.Node, loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int],
               problems: list[str]) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(yaml.safe_load(yaml.serialize(key_node)))
            if key in result:
                problems.append(f"{format_path((*loc, key))} (line {key_node.start_mark.line + 1}): "
                                "duplicate key")
            result[key] = _construct(value_node, (*loc, key), lines, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*loc, i), lines, problems) for i, item in enumerate(node.value)]
    value = yaml.safe_load(yaml.serialize(node))
    if isinstance(value, str):
        return _interpolate(value, loc, node.start_mark.line + 1, problems)
    return value


def _interpolate(value: str, loc: tuple[Any, ...], line: int, problems: list[str]) -> Any:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        problems.append(f"{format_path(loc)} (line {line}): environment variable {name} is not set "
                        f"(write ${{{name}:-default}} to give a default)")
        return ""

    expanded = _VAR.sub(replace, value)
    if expanded != value and _VAR.fullmatch(value):
        # A whole-value reference keeps YAML typing, so `port: ${PORT:-5432}` stays a number.
        return yaml.safe_load(expanded) if expanded.strip() else None
    return expanded


def load_yaml_text(text: str, source: str) -> LoadedYaml:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        context = getattr(exc, "context_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        started = (f"; {exc.context} at line {context.line + 1}"  # type: ignore[attr-defined]
                   if context and getattr(exc, "context", None) else "")
        raise ConfigError([f"not valid YAML{where}: {getattr(exc, 'problem', exc)}{started}"], source) from None
    lines: dict[tuple[Any, ...], int] = {}
    problems: list[str] = []
    data = _construct(node, (), lines, problems) if node is not None else {}
    if problems:
        raise ConfigError(problems, source)
    return LoadedYaml(data=data, lines=lines)


def load_yaml_file(path: Path) -> LoadedYaml:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"file not found: {path} (use --config PATH or $CLINICSYNC_CONFIG)"],
                          str(path)) from None
    except OSError as exc:
        raise ConfigError([f"cannot read: {exc.strerror}"], str(path)) from None
    return load_yaml_text(text, str(path))
