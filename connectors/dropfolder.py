"""What every drop-folder connector shares (CSV exports, HL7 batch files): settled files
in name order, each read once by content hash, then moved to an archive folder.

The cursor is ``{"done": {hash: name}, "current": {"hash": h, "rows": n}}``: files
already stored by hash, and how far the file being read got (records, not lines).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
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
    read cost an allocation and its page faults each time (a re-export hashes two files, issue 32)."""
    with path.open("rb", buffering=0) as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def remember(done: dict[str, str], digest: str, name: str) -> dict[str, str]:
    """``done`` plus this file, keeping the newest DONE_LIMIT entries."""
    done = {**done, digest: name}
    if len(done) > DONE_LIMIT:
        done = dict(list(done.items())[-DONE_LIMIT:])
    return done


def drop_cursor(done: dict[str, str], digest: str | None = None, rows: int = 0) -> Cursor:
    return {"done": done, "current": {"hash": digest, "rows": rows} if digest else None}


def resume_point(cursor: Cursor | None) -> tuple[dict[str, str], dict[str, Any]]:
    """The files already done and the file in progress, from a stored cursor."""
    state = dict(cursor or {})
    return dict(state.get("done", {})), dict(state.get("current") or {})


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
