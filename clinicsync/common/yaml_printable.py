"""PyYAML's check for characters YAML does not allow, compiled when a file is checked, not
when yaml is imported.

PyYAML's pure-Python reader compiles one regular expression as a class attribute
(``yaml.reader.Reader.NON_PRINTABLE``, every character YAML allows, up to U+10FFFF): Python's
``re`` builds it in Python code, ~57 M instructions (~20 ms), a quarter of what an idle `sync
--once` spends on its YAML. That reader runs only when libyaml is missing or refuses
a file (common/yaml_loader.py): the settings and mappings are read by libyaml. So before the
CLI's first ``import yaml`` (:func:`defer_yaml_printable_check`, called as the command starts)
``re``'s cache is given, under that pattern's key, a stand-in that compiles the pattern on its
first use; the pure-Python reader then finds the same pattern, compiled a moment later, and its
errors read as before (tests/cli_start/test_yaml_parser.py). Left as it was when yaml is
already imported or ``re`` keeps no cache of that shape."""

from __future__ import annotations

import re
import sys
from typing import Any

# yaml/reader.py's Reader.NON_PRINTABLE, character for character (PyYAML 5.1 to 6.x).
NON_PRINTABLE = "[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]"


class CompiledOnFirstUse:
    """Stands for ``re.compile(pattern)``: every attribute (``search``, ``match``, ``pattern``…)
    is the compiled pattern's, compiled the first time one is asked for."""

    def __init__(self, pattern: str) -> None:
        self._pattern = pattern
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> bool:
        return self._compiled is not None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._compiled is None:
            cache = getattr(re, "_cache", {})
            if cache.get(_key(self._pattern)) is self:  # else re.compile would give this stand-in back
                del cache[_key(self._pattern)]
            self._compiled = re.compile(self._pattern)
        return getattr(self._compiled, name)


def _key(pattern: str) -> tuple[type, str, int]:
    """The key ``re`` caches ``re.compile(pattern)`` under (Python 3.11-3.13)."""
    return (str, pattern, 0)


def defer_yaml_printable_check() -> None:
    """Let ``import yaml`` take :data:`NON_PRINTABLE` uncompiled (see the module)."""
    cache = getattr(re, "_cache", None)
    if "yaml" in sys.modules or not isinstance(cache, dict):
        return
    cache.setdefault(_key(NON_PRINTABLE), CompiledOnFirstUse(NON_PRINTABLE))
