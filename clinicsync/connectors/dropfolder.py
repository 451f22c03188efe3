"""What every drop-folder connector shares (CSV exports, HL7 batch files): settled files
in name order, each read once by content hash, then moved to an archive folder.

The cursor is ``{"done": {key: [name, mtime_ns, size]}, "floor": [mtime_ns, name],
"current": {"hash": h, "rows": n}}``: the files already stored (by a key of their content),
how far the file being read got (records, not lines), and, once more files were read than
``DONE_LIMIT``, the newest of those forgotten (``FilesRead``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from clinicsync.common.logs import get_logger
from clinicsync.connectors.base import Cursor, FatalConnectorError

DONE_LIMIT = 10_000
IGNORED_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")
log = get_logger("clinicsync.connectors")


def folder_problem(drop_dir: Path, archive_dir: Path | None) -> str | None:
    """Why the folders cannot be used, or None (for ``check()``)."""
    if not drop_dir.is_dir():
        return f"drop folder {drop_dir} does not exist"
    if not os.access(drop_dir, os.R_OK | os.X_OK):
        return f"drop folder {drop_dir} is not readable"
    if archive_dir is not None and archive_dir.exists() and not os.access(archive_dir, os.W_OK):
        return f"archive folder {archive_dir} is not writable"
    return None


def scan_files(connector: str, drop_dir: Path, pattern: str, settle_seconds: float) -> tuple[list[Path], int]:
    """Files matching ``pattern`` in name order, leaving out hidden and partial files and
    those modified in the last ``settle_seconds`` (probably still being written), and how
    many were left out for that."""
    if not drop_dir.is_dir():
        raise FatalConnectorError(f"connector {connector}: drop folder {drop_dir} does not exist")
    settled_before = time.time() - settle_seconds
    files, settling = [], 0
    for path in sorted(drop_dir.glob(pattern)):
        if not path.is_file() or path.name.startswith(".") or path.name.endswith(IGNORED_SUFFIXES):
            continue
        if path.stat().st_mtime > settled_before:
            settling += 1
            continue
        files.append(path)
    return files, settling


def folder_state(connector: str, drop_dir: Path, pattern: str, settle_seconds: float) -> str:
    """What ``check()`` says of a readable drop folder: the files a run would read now, and
    those it leaves for the next run because they changed within ``settle_seconds``."""
    files, settling = scan_files(connector, drop_dir, pattern, settle_seconds)
    said = f"drop folder readable, {len(files)} file(s) waiting or kept"
    if settling:
        said += f", {settling} changed in the last {settle_seconds:g} s (settle_seconds): read once settled"
    return said


def settled_files(connector: str, drop_dir: Path, pattern: str, settle_seconds: float) -> list[Path]:
    """:func:`scan_files`' files, with a warning when some are left for the next run."""
    files, settling = scan_files(connector, drop_dir, pattern, settle_seconds)
    if settling:  # said, so that a file dropped just before a run is not silently passed over
        log.warning("dropfolder.settling", connector=connector, files=settling, settle_seconds=settle_seconds,
                    hint="changed within settle_seconds: probably still being written, read by the next run")
    return files


def file_digest(path: Path) -> str:
    """The file's SHA-256 (hex). Read into one buffer again and again: a new megabyte ``bytes`` per
    read cost an allocation and its page faults each time (a re-export hashes two files)."""
    with path.open("rb", buffering=0) as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


Entry = list[Any]  # [name, mtime_ns, size]; a cursor written before the floor existed has [name, None, None]


@dataclass(frozen=True)
class FilesRead:
    """The files a drop-folder connector has stored, as its cursor remembers them.

    Only the newest ``DONE_LIMIT`` are remembered by key. Without an archive folder every file
    stays in the drop folder, so one forgotten used to be read again as new: an export of months
    ago re-applied (a visit moved back, the bookings made since deleted), then the next oldest at
    the next run, and so on, once the folder held more than ``DONE_LIMIT`` files (104 days of
    an export every 15 minutes). So the newest (modification time, name) among the forgotten is
    kept as a floor, and a file at or below it is taken as read (Airbyte's file sources do the
    same past their history's limit). A file copied in later with an older modification time
    (``cp -p``, ``rsync -t``) is then taken as read too: docs/connectors/csv.md says so, and an
    archive folder, where only unread files wait, needs no floor (``passed``).

    A remembered file whose name, modification time and size are unchanged is known without
    reading it, so a folder kept for months is not hashed whole on every run."""

    done: dict[str, Entry]
    floor: tuple[int, str] | None = None

    @classmethod
    def load(cls, cursor: Cursor | None) -> tuple[FilesRead, dict[str, Any]]:
        """The files read and the file in progress (``{"hash": …, "rows": …}``), from a stored cursor."""
        state = dict(cursor or {})
        done = {key: (value if isinstance(value, list) else [value, None, None])
                for key, value in dict(state.get("done") or {}).items()}
        floor = state.get("floor")
        return cls(done, (int(floor[0]), str(floor[1])) if floor else None), dict(state.get("current") or {})

    def __contains__(self, key: str) -> bool:
        return key in self.done

    def passed(self, path: Path, stat: os.stat_result, kept_in_place: bool) -> bool:
        """Whether ``path`` was read before, by what ``stat`` says alone (no read of the file):
        at or below the floor when files stay in the folder, or remembered as it is now."""
        if kept_in_place and self.floor is not None and (stat.st_mtime_ns, path.name) <= self.floor:
            return True
        return (path.name, stat.st_mtime_ns, stat.st_size) in self._stats

    @cached_property
    def _stats(self) -> frozenset[tuple[Any, ...]]:
        return frozenset(tuple(entry) for entry in self.done.values() if entry[1] is not None)

    def completed(self, key: str, path: Path) -> FilesRead:
        """These files, with ``key``'s entry given ``path``'s name and times when a cursor of
        before the floor left them out (so that, once forgotten, it raises the floor)."""
        entry = self.done[key]
        if entry[1] is not None:
            return self
        stat = path.stat()
        return FilesRead({**self.done, key: [path.name, stat.st_mtime_ns, stat.st_size]}, self.floor)

    def with_file(self, key: str, path: Path) -> FilesRead:
        """These files and ``path`` (under ``key``), forgetting the oldest past ``DONE_LIMIT``."""
        try:
            stat = path.stat()
            entry: Entry = [path.name, stat.st_mtime_ns, stat.st_size]
        except OSError:  # gone already (moved by hand): its key is enough
            entry = [path.name, None, None]
        done = {**self.done, key: entry}
        done.pop(key)  # re-insert last: the newest read is the last forgotten
        done[key] = entry
        floor = self.floor
        if len(done) > DONE_LIMIT:
            keys = list(done)
            for old in keys[:len(keys) - DONE_LIMIT]:
                name, mtime_ns, _ = done.pop(old)
                if mtime_ns is not None and (floor is None or (mtime_ns, name) > floor):
                    floor = (mtime_ns, name)
        return FilesRead(done, floor)

    def cursor(self, digest: str | None = None, rows: int = 0) -> Cursor:
        """The cursor to store: these files, and the file in progress when ``digest`` is given."""
        state: Cursor = {"done": self.done, "current": {"hash": digest, "rows": rows} if digest else None}
        if self.floor is not None:
            state["floor"] = list(self.floor)
        return state


def archive_file(path: Path, archive_dir: Path | None) -> None:
    """Move a stored file out of the drop folder; unset ``archive_dir`` keeps it in place."""
    if archive_dir is None or not path.exists():
        return
    archive_dir.mkdir(parents=True, exist_ok=True)
    target = archive_dir / path.name
    if target.exists():
        target = archive_dir / f"{path.stem}.{int(time.time())}{path.suffix}"
    shutil.move(str(path), target)


def sample_file(connector: str, drop_dir: Path, archive_dir: Path | None, pattern: str) -> Path | None:
    """The file ``clinicsync check`` reads a sample from: the first waiting in the drop folder
    (settled or not), else the newest already archived; None when there is none."""
    waiting, _ = scan_files(connector, drop_dir, pattern, 0)  # no settling warning: nothing is read for good
    if waiting:
        return waiting[0]
    if archive_dir is None or not archive_dir.is_dir():
        return None
    archived = [p for p in archive_dir.glob(pattern) if p.is_file() and not p.name.startswith(".")]
    return max(archived, key=lambda p: p.stat().st_mtime, default=None)
