"""The installed entry points, kept on disk between processes, keyed by what decides them.

Reading them (``importlib.metadata.entry_points()``) opens every installed distribution's
metadata: with importlib.metadata's own import (email, zipfile, csv) ~15-40 ms of CPU at each
start, the largest single item of an idle cron ``sync --once``, for a list that changes only
when a package is installed or removed. So the list is kept in a file outside the code
(``$CLINICSYNC_CACHE_DIR``, else ``$XDG_CACHE_HOME/clinicsync``, else ``~/.cache/clinicsync``)
with the key it was read under: the interpreter, ``sys.path``, and for each path entry the
distributions' folders in it with the identity (inode, size, modification time) of each one's
``entry_points.txt``. Installing, removing or upgrading a package, or editing an entry point,
changes the key, and the next start reads the metadata again, as before. Computing the key is
a listing of each path entry and one stat a distribution (~1-2 ms).

Only the standard path finder's distributions can be keyed so: a process whose import system
has another finder that lists distributions (``find_distributions``) reads the metadata every
time. A cache folder that cannot be read or written is no error: the metadata is read, as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterable
from contextlib import suppress
from functools import reduce
from importlib import import_module
from pathlib import Path
from typing import Any, NamedTuple

FORMAT = 1  # bump when the file's layout changes
PRUNE_AFTER = 30 * 86400  # a kept file not rewritten for a month belongs to a gone environment
_PATTERN = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")


class Entry(NamedTuple):
    """One entry point as importlib.metadata gives it: its name, value and group, and ``load``."""

    name: str
    value: str
    group: str

    def load(self) -> Any:
        """The object the value names (``module:attr.attr``), as ``EntryPoint.load`` finds it."""
        match = _PATTERN.match(self.value)
        if match is None:
            raise ValueError(f"entry point {self.name} = {self.value}: not a module:attribute reference")
        module = import_module(match.group("module"))
        return reduce(getattr, filter(None, (match.group("attr") or "").split(".")), module)


def cache_dir() -> Path | None:
    """Where the list is kept (module docstring); None without a home folder to put it in."""
    if explicit := os.environ.get("CLINICSYNC_CACHE_DIR"):
        return Path(explicit)
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg) / "clinicsync"
    home = os.environ.get("HOME")
    return Path(home) / ".cache" / "clinicsync" if home else None


def _stat(path: str) -> tuple[int, int, int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns


def _entry_key(entry: str) -> tuple[Any, ...]:
    """What one ``sys.path`` entry adds to the scan: its distributions' folders and their
    entry_points.txt, or the file itself (a zip). Not the entry's name: two start folders
    without distributions add the same nothing (``python -m`` puts the current folder first)."""
    where = os.path.abspath(entry or ".")
    try:
        children = os.listdir(where)
    except NotADirectoryError:
        return "file", _stat(where)
    except OSError:
        return ("missing",)
    metadata = sorted(name for name in children if name.lower().endswith((".dist-info", ".egg-info")))
    own = _stat(os.path.join(where, "EGG-INFO", "entry_points.txt")) if where.lower().endswith(".egg") else None
    return "folder", own, [(name, _stat(os.path.join(where, name, "entry_points.txt"))) for name in metadata]


def installed_key(path: Iterable[str]) -> str | None:
    """The key of the entry points visible on ``path``; None when a finder other than the
    standard path finder could add distributions (then nothing is kept)."""
    from importlib.machinery import PathFinder

    if any(getattr(finder, "find_distributions", None) is not None and finder is not PathFinder
           for finder in sys.meta_path):
        return None
    parts = (FORMAT, sys.version, sys.implementation.cache_tag, [_entry_key(entry) for entry in path])
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _file(folder: Path) -> Path:
    """One file per environment (interpreter and prefix: a venv), rewritten when its key changes."""
    name = hashlib.sha256(repr((sys.executable, sys.prefix)).encode()).hexdigest()[:20]
    return folder / f"entry-points-{name}.json"


def kept(key: str) -> list[Entry] | None:
    """The list kept under ``key``, or None (none kept, another key, unreadable)."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        data = json.loads(_file(folder).read_text(encoding="utf-8"))
        if data.get("key") != key:
            return None
        return [Entry(*item) for item in data["entries"]]
    except (OSError, ValueError, TypeError, KeyError):
        return None


def keep(key: str, entries: Iterable[Any]) -> None:
    """Write the list under ``key`` (whole, or not at all); old files of gone environments are removed."""
    folder = cache_dir()
    if folder is None:
        return
    target = _file(folder)
    body = json.dumps({"key": key, "entries": [[e.name, e.value, e.group] for e in entries]})
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary.write_text(body, encoding="utf-8")
        os.replace(temporary, target)
        cutoff = time.time() - PRUNE_AFTER
        for old in folder.glob("entry-points-*.json"):
            if old != target and old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)
    except OSError:
        with suppress(OSError):
            temporary.unlink(missing_ok=True)
