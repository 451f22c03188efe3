"""`-o wide` on a real pseudo-terminal at 80 and 120 columns, as kubectl's: one line a row,
every column whole, no id cut (it wrapped each row over 3 lines and cut `emr:A…`)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest

from tests.cli.conftest import BigStore

ID = re.compile(r"\bemr:A\d+\b")


def on_terminal(columns: int, *args: str) -> str:
    """``clinicsync ARGS`` with a pseudo-terminal ``columns`` wide as its stdout; its text, colours removed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "50", "TERM": "xterm", "NO_COLOR": "1"}
    process = subprocess.Popen([sys.executable, "-m", "clinicsync.sync.cli", *args],
                               stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=60) == 0, b"".join(chunks)[-2000:]
    os.close(leader)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode()).replace("\r\n", "\n")


@pytest.mark.parametrize("columns", [80, 120])
def test_wide_is_one_line_a_row_and_cuts_nothing(big: BigStore, columns: int) -> None:
    out = on_terminal(columns, "--config", str(big.settings), "appointments", "list", "-n", "5", "-o", "wide")
    rows = [line for line in out.splitlines() if line.startswith("│")]  # the header row is drawn with ┃
    assert len(rows) == 5, out  # one line each: a wrapped row would add lines without an id
    for row in rows:
        assert ID.search(row), row
        assert "…" not in row, row  # no cell cut
        assert "zone" not in row
    assert "zone" in out  # the wide column is there

