"""Read settings.yaml into plain data, keeping line numbers and expanding ``${VAR}``.

Kept apart from the pydantic models so that every error, wherever it is found,
can name the YAML path *and* the line the IT person has to open.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from clinicsync.common.settings_base import FileRead, file_read
from clinicsync.common.yaml_loader import FAST_LOADER

# libyaml's parser when there (`status` reads the file on every start and should start in a blink).
_FAST_LOADER = FAST_LOADER

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# Bounds on what a settings file may cost to read. These stop a hostile or broken file (5,000
# levels, an alias "billion laughs", a recursive anchor) with a clear error instead of a
# RecursionError or a hang, and never a real one for its size: 10,000 hand-written SQL sources
# are ~4 MiB and 120,000 values, read in time linear in the file. What is written costs what
# its bytes cost; only what aliases ADD (each value of an aliased node, again at each *name) is
# counted against MAX_ALIAS_VALUES, on top of as many values as the file writes, so a file that
# repeats one anchor per source stays linear and a billion laughs stops within microseconds.
MAX_SETTINGS_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 50
MAX_ALIAS_VALUES = 10_000
# What an unset ${VAR} reads as in a deferred section: random per process, so it can never be
# a valid credential, never empty (secret validators refuse ""), and never shown. os.urandom is
# what secrets.token_urlsafe reads; importing secrets (hmac, hashlib's C bindings, random) at
# every start cost more than the token.
UNSET = "unset-" + base64.urlsafe_b64encode(os.urandom(18)).decode().rstrip("=")


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
    """The settings as plain data plus where each key was written, and the ``${VAR}`` left
    unset in deferred sections (their location and the error a command using them reports)."""

    data: Any
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)
    unset: dict[tuple[Any, ...], str] = field(default_factory=dict)
    read: FileRead | None = None  # the file as read (load_yaml_file), for the service to compare later

    def line_of(self, loc: tuple[Any, ...]) -> int | None:
        """The line of the deepest known prefix of ``loc`` (1-based)."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None


class _TooCostly(Exception):
    """Reading on would cost without bound: the message says why and where."""


@dataclass
class _Budget:
    written: int = 0  # the values the file writes (each node once)
    added: int = 0  # the values aliases add (an aliased node's values, again at each *name)
    built: set[int] = field(default_factory=set)  # the nodes built once: building one again is an alias
    active: set[int] = field(default_factory=set)  # the nodes being built: an alias back to one is a cycle
    defer: frozenset[str] = frozenset()  # top-level sections whose unset ${VAR} wait for a command using them
    unset: dict[tuple[Any, ...], str] = field(default_factory=dict)


def _check_nesting(text: str, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> None:
    """Refuse nesting deeper than MAX_DEPTH from the parser's events (flat, no recursion),
    before the composer, which recurses once per level, ever sees it."""
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = f" (line {event.start_mark.line + 1})" if event.start_mark else ""
                raise _TooCostly(f"nested deeper than {MAX_DEPTH} levels{line}")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _construct(node: yaml.Node, loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int],
               problems: list[str], budget: _Budget) -> Any:
    lines[loc] = node.start_mark.line + 1
    if id(node) in budget.built:
        budget.added += 1
        if budget.added > MAX_ALIAS_VALUES + budget.written:
            raise _TooCostly(f"aliases (*name) add more than {MAX_ALIAS_VALUES} values beyond what the file "
                             "writes; settings never need that many (an alias bomb?)")
    else:
        budget.built.add(id(node))
        budget.written += 1
    if id(node) in budget.active:
        raise _TooCostly(f"{format_path(loc)} (line {node.start_mark.line + 1}): an alias refers to the "
                         "value that contains it (recursive aliases are not allowed)")
    if isinstance(node, yaml.MappingNode):
        budget.active.add(id(node))
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _TooCostly(f"{format_path(loc)} (line {key_node.start_mark.line + 1}): "
                                 "a key must be plain text")
            key = str(_scalar(key_node))
            if key in result:
                problems.append(f"{format_path((*loc, key))} (line {key_node.start_mark.line + 1}): "
                                "duplicate key")
            result[key] = _construct(value_node, (*loc, key), lines, problems, budget)
        budget.active.discard(id(node))
        return result
    if isinstance(node, yaml.SequenceNode):
        budget.active.add(id(node))
        items = [_construct(item, (*loc, i), lines, problems, budget) for i, item in enumerate(node.value)]
        budget.active.discard(id(node))
        return items
    value = _scalar(node)
    if isinstance(value, str):
        return _interpolate(value, loc, node.start_mark.line + 1, problems, budget)
    return value


def _scalar(node: yaml.Node) -> Any:
    """A plain value as YAML's safe loader reads it. Built from the node itself: serializing a
    lone node and parsing it again failed on an empty value (``connectors:`` with nothing after
    it, as an admin leaves it before `discover --write` fills it) with a parser traceback."""
    return SafeConstructor().construct_object(node, deep=True)


def _interpolate(value: str, loc: tuple[Any, ...], line: int, problems: list[str], budget: _Budget) -> Any:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        problem = (f"{format_path(loc)} (line {line}): environment variable {name} is not set "
                   f"(write ${{{name}:-default}} to give a default)")
        if loc and loc[0] in budget.defer:
            budget.unset[loc] = problem
            return UNSET
        problems.append(problem)
        return ""

    expanded = _VAR.sub(replace, value)
    if expanded != value and _VAR.fullmatch(value):
        # A whole-value reference keeps YAML typing, so `port: ${PORT:-5432}` stays a number.
        return _value(expanded) if expanded.strip() else None
    return expanded


def _value(text: str) -> Any:
    """A whole-value reference's text as YAML types it, read as the file is (_compose): by
    libyaml when it is there, and in pure Python when it refuses the text, whose error is
    raised. The pure-Python reader's first use also compiles its check of the characters YAML
    allows, ~57 M instructions of an idle `sync --once` (common/yaml_printable.py)."""
    if _FAST_LOADER is not yaml.SafeLoader:
        try:
            return yaml.load(text, Loader=_FAST_LOADER)  # noqa: S506 - a safe loader (CSafeLoader)
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def _compose(text: str) -> yaml.Node | None:
    """The document's node tree, nesting checked first; by libyaml when it is there. A file it
    refuses (or an alias bomb it stops) is read again in pure Python, whose error is raised."""
    if _FAST_LOADER is not yaml.SafeLoader:
        try:
            _check_nesting(text, _FAST_LOADER)
            return yaml.compose(text, Loader=_FAST_LOADER)
        except (yaml.YAMLError, _TooCostly):
            pass
    _check_nesting(text)
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _not_yaml(exc: yaml.YAMLError) -> str:
    """`not valid YAML (line 3, column 7): <the parser's problem>; <context> at line 2`."""
    mark = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    started = (f"; {exc.context} at line {context.line + 1}"  # type: ignore[attr-defined]
               if context and getattr(exc, "context", None) else "")
    return f"not valid YAML{where}: {getattr(exc, 'problem', exc)}{started}"


def _too_large() -> str:
    return (f"larger than {MAX_SETTINGS_BYTES // (1024 * 1024)} MiB; 10,000 sources written out are ~4 MiB "
            "(a group of practices is a template and a list: `fleets:`)")


def load_yaml_text(text: str, source: str, defer: frozenset[str] = frozenset()) -> LoadedYaml:
    """``defer``: top-level sections (e.g. connectors) whose unset ``${VAR}`` are not an error
    yet but recorded in ``unset``: a command that does not talk to those peers runs without
    their secrets, one that does reports them."""
    if len(text) > MAX_SETTINGS_BYTES:
        raise ConfigError([_too_large()], source)
    try:
        node = _compose(text)
    except yaml.YAMLError as exc:
        raise ConfigError([_not_yaml(exc)], source) from None
    except _TooCostly as exc:
        raise ConfigError([str(exc)], source) from None
    lines: dict[tuple[Any, ...], int] = {}
    problems: list[str] = []
    budget = _Budget(defer=defer)
    try:
        data = _construct(node, (), lines, problems, budget) if node is not None else {}
    except _TooCostly as exc:
        raise ConfigError([str(exc)], source) from None
    except yaml.YAMLError as exc:  # a tag no safe loader builds (`!!python/object`): one line, not a traceback
        raise ConfigError([_not_yaml(exc)], source) from None
    if problems:
        raise ConfigError(problems, source)
    return LoadedYaml(data=data, lines=lines, unset=budget.unset)


def load_yaml_file(path: Path, defer: frozenset[str] = frozenset()) -> LoadedYaml:
    try:
        with path.open("rb") as handle:
            stat = os.fstat(handle.fileno())
            raw = handle.read(MAX_SETTINGS_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError([f"file not found: {path} (use --config PATH or $CLINICSYNC_CONFIG)"],
                          str(path)) from None
    except OSError as exc:
        raise ConfigError([f"cannot read: {exc.strerror}"], str(path)) from None
    if len(raw) > MAX_SETTINGS_BYTES:
        raise ConfigError([_too_large()], str(path))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError([f"line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"],
                          str(path)) from None
    loaded = load_yaml_text(text, str(path), defer)
    loaded.read = file_read(path, stat, raw)
    return loaded
