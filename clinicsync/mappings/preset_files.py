"""A mapping's preset files as read from disk: the site's own file and its ``extends`` chain,
merged key by key, each key's line kept so that an error names the file and line to fix, and
the merged text remembered until a file of the chain changes.

Apart from the compiler (engine.py) because reading files and compiling fields are two jobs:
the compiler needs only the merged data and the chain (``Origin``) to word its errors; the
waiting-list mappings, the record-kind probe and the settings watcher read files without
compiling anything.
"""

from __future__ import annotations

import copy
import difflib
import json
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from clinicsync.common.yaml_loader import FAST_LOADER
from clinicsync.mappings.model import MappingLoadError

PRESETS_DIR = Path(__file__).parent


@dataclass(frozen=True)
class Origin:
    """One file of a mapping's ``extends`` chain: where an error in it must send the admin."""

    path: Path
    name: str  # the mapping's own name (its `name:`, else the file's stem), never its preset's
    lines: dict[tuple[str, ...], int]  # key path -> 1-based line

    def where(self, loc: tuple[str, ...]) -> str:
        """``mapping 'desk' (/srv/desk.yaml, line 7)``: the deepest key of ``loc`` this file
        writes (a shipped preset is named too: its file is what the admin's `extends:` reads)."""
        line = next((self.lines[loc[:end]] for end in range(len(loc), 0, -1) if loc[:end] in self.lines), None)
        return f"mapping {self.name!r} ({self.path}{f', line {line}' if line else ''})"


def owner_of(chain: list[Origin], loc: tuple[str, ...]) -> Origin:
    """The file of the chain (the site's own file first) that wrote ``loc``: a field or
    status word belongs to the nearest file naming it; other keys to the nearest file that
    has them (``extends`` merges `fields` and `status_map` key by key, replaces the rest)."""
    key = loc[:2] if loc[:1] in (("fields",), ("status_map",)) else loc[:1]
    return next((origin for origin in chain if key in origin.lines), chain[0])


def suggestion(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def read_preset_data(ref: str, base_dir: Path, referrer: str = "") -> tuple[dict[str, Any], list[Origin]]:
    """The merged YAML of ``ref`` and its ``extends`` chain, with each file's origin (the
    file itself first). ``referrer`` locates the `extends:` that named ``ref``, if one did."""
    looks_like_file = ref.endswith((".yaml", ".yml")) or "/" in ref
    path = (base_dir / ref) if looks_like_file else PRESETS_DIR / f"{ref}.yaml"
    named = f"{referrer}: extends" if referrer else f"mapping {ref!r}"
    if not path.is_file():
        if looks_like_file:
            raise MappingLoadError(f"{named}: no such file {path}")
        presets = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
        hint = suggestion(ref, presets) or f" (presets: {', '.join(presets)})"
        raise MappingLoadError(f"{named}: no preset {ref!r}{hint}")
    try:
        stat = path.stat()
        parsed, lines = _parsed_yaml(path.resolve(), stat.st_mtime_ns, stat.st_size)
        data = copy.deepcopy(parsed)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise MappingLoadError(f"{named}: {path} is not valid YAML{where}: "
                         f"{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise MappingLoadError(f"{named}: {path} is not a YAML mapping")
    own = Origin(path, str(data.get("name") or Path(ref).stem), lines)
    chain = [own]
    parent = data.get("extends")
    if parent:
        base, above = read_preset_data(str(parent), base_dir, own.where(("extends",)))
        chain += above
        data = {
            **base, **data, "name": own.name,
            "fields": {**base.get("fields", {}), **data.get("fields", {})},
            "status_map": {**base.get("status_map", {}), **data.get("status_map", {})},
        }
    return data, chain


# The merged YAML of each mapping ref as last read, with each file of its chain's (path, mtime_ns,
# size) and the YAML as canonical JSON (load_mapping's key). `clinicsync run` asks for each
# source's mapping at every poll, twice (is it a waiting list? then compile it): a stat of each
# file now, where a read, a deep copy and a JSON dump of the merged YAML were ~2 ms of an idle
# poll's CPU. A file edited is read again at the next poll, as before.
_Stamps = tuple[tuple[Path, int, int], ...]
_MERGED: dict[tuple[str, Path], tuple[_Stamps, dict[str, Any], list[Origin], str]] = {}


def _stamps(paths: list[Path]) -> _Stamps | None:
    try:
        return tuple((path, (stat := path.stat()).st_mtime_ns, stat.st_size) for path in paths)
    except OSError:
        return None


def merged_preset(ref: str, base_dir: Path = Path(".")) -> tuple[dict[str, Any], list[Origin], str]:
    """``read_preset_data(ref, base_dir)`` and its canonical JSON, read again only when a
    file of its chain changed. The data is shared: read it, never change it."""
    key = (ref, base_dir)
    cached = _MERGED.get(key)
    if cached is not None and _stamps([path for path, _, _ in cached[0]]) == cached[0]:
        return cached[1], cached[2], cached[3]
    data, chain = read_preset_data(ref, base_dir)
    text = json.dumps(data, sort_keys=True, default=repr)
    stamps = _stamps([origin.path for origin in chain])
    # A file changed within the last 2 s may have changed again after it was read, within its
    # modification time's granularity: not kept, read again next time (as git treats racy files).
    recent = time.time_ns() - 2_000_000_000
    if stamps is not None and all(mtime < recent for _, mtime, _ in stamps):
        if len(_MERGED) >= 256:
            _MERGED.clear()
        _MERGED[key] = (stamps, data, chain, text)
    return data, chain, text


def mapping_files(ref: str, base_dir: Path = Path(".")) -> list[Path]:
    """The files ``ref`` is read from (the site's own file first, then its ``extends`` chain),
    as :func:`load_mapping` reads them at each poll; none when it does not load (the poll says
    why). A long-running process watches them (sync/runs/settings_watch.py)."""
    try:
        _data, chain, _text = merged_preset(ref, base_dir)  # read again only when a file of it changed
    except (ValueError, OSError, RecursionError):
        return []
    return [origin.path for origin in chain]


def _composed(text: str, loader_class: type[yaml.SafeLoader]) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for the keys' lines) and its data."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return node, loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


@lru_cache(maxsize=64)
def _parsed_yaml(path: Path, mtime_ns: int, size: int) -> tuple[Any, dict[tuple[str, ...], int]]:
    """A mapping file's YAML, parsed once per version of the file, and the line of each key
    (``("fields", "patient.phone")`` -> 12) for errors that send the admin to it."""
    text = path.read_text(encoding="utf-8")
    try:
        node, data = _composed(text, FAST_LOADER)
    except yaml.YAMLError:
        if FAST_LOADER is yaml.SafeLoader:
            raise
        node, data = _composed(text, yaml.SafeLoader)  # its error: the same wording whatever the build
    lines: dict[tuple[str, ...], int] = {}
    pending: list[tuple[yaml.Node, tuple[str, ...]]] = [(node, ())] if node is not None else []
    while pending:  # keys three levels deep are enough to point at (fields.type.fro)
        current, loc = pending.pop()
        if isinstance(current, yaml.MappingNode) and len(loc) < 3:
            for key_node, value_node in current.value:
                if isinstance(key_node, yaml.ScalarNode):
                    lines[(*loc, str(key_node.value))] = key_node.start_mark.line + 1
                    pending.append((value_node, (*loc, str(key_node.value))))
    return data, lines
