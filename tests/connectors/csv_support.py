"""What the CSV connector tests share: generated rows, drop files (written whole or as raw
lines, in any encoding), and reading back what a run stored."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from clinicsync.sync.cli.demo import COLUMNS, generate_rows

TOMORROW = date.today() + timedelta(days=1)
Run = Callable[..., dict[str, Any]]


def rows(count: int = 20, first: date = TOMORROW) -> list[dict[str, str]]:
    """Valid, booked rows only (the generator's last six are its deliberate bad rows)."""
    return [{**r, "status": "scheduled"} for r in generate_rows(first, days=7)[:-6][:count]]


def settle(path: Path, age: float = 60) -> Path:
    """Backdate the file so that the drop folder's settle window has passed."""
    past = time.time() - age
    os.utime(path, (past, past))
    return path


def csv_lines(data: list[dict[str, str]], delimiter: str = ",", columns: list[str] = COLUMNS) -> list[str]:
    """The header and each row as one CSV line (with its line break), as an export writes them."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, delimiter=delimiter, extrasaction="ignore",
                            lineterminator="\r\n")
    writer.writeheader()
    lines = [buffer.getvalue()]
    for row in data:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        lines.append(buffer.getvalue())
    return lines


def write_drop(folder: Path, name: str, data: list[dict[str, str]], encoding: str = "utf-8",
               delimiter: str = ",", columns: list[str] = COLUMNS, age: float = 60) -> Path:
    path = folder / name
    path.write_bytes("".join(csv_lines(data, delimiter, columns)).encode(encoding))
    return settle(path, age)


def write_raw(folder: Path, name: str, parts: list[str | bytes], encoding: str = "utf-8") -> Path:
    """A drop made of text (encoded) and raw bytes (written as they are): for broken files."""
    path = folder / name
    path.write_bytes(b"".join(p if isinstance(p, bytes) else p.encode(encoding) for p in parts))
    return settle(path)


def appointments(run: Run) -> list[dict[str, Any]]:
    _, out, _ = run.cli("appointments", "list", "--all", "--json")  # type: ignore[attr-defined]
    return json.loads(out)["items"]  # type: ignore[no-any-return]


def quarantine(run: Run) -> list[dict[str, Any]]:
    _, out, _ = run.cli("quarantine", "list", "--all", "--json")  # type: ignore[attr-defined]
    return json.loads(out)["items"]  # type: ignore[no-any-return]
