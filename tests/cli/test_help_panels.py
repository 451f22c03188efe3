"""`--help` grouped into panels an IT admin expects, with examples, as gh and kubectl do:
piped (plain) and on a terminal (rich) at 80 and 120 columns."""

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
from typer.testing import CliRunner

from clinicsync.sync.cli import app
from clinicsync.sync.cli.guide import EXAMPLES, PANEL, PANELS
from clinicsync.sync.cli.lazy import loaded

PANEL_RE = re.compile(r"^(Set up|Daily|Inspect|Operate|Commands):$", re.MULTILINE)


def test_piped_help_lists_every_command_under_its_panel_in_order() -> None:
    out = CliRunner().invoke(app, ["--help"]).output
    assert PANEL_RE.findall(out) == list(PANELS)  # no flat "Commands:" list
    sections = dict(zip(PANELS, PANEL_RE.split(out)[2::2], strict=True))
    for name, panel in PANEL.items():
        assert re.search(rf"^  {re.escape(name)}\s", sections[panel], re.MULTILINE), (name, panel)
    assert "Examples:" in out and "$ clinicsync sync" in out


@pytest.mark.parametrize("name", sorted(PANEL))
def test_every_command_help_ends_with_its_examples(name: str) -> None:
    out = CliRunner().invoke(app, [name, "--help"]).output
    tail = out.split("Examples:", 1)[1]
    for example in EXAMPLES[name]:
        assert f"$ {example}" in tail


def test_every_example_names_a_real_command_and_real_options() -> None:
    """An example that names a command or an option that does not exist teaches a usage error."""
    from typer.main import get_command

    root = get_command(app)
    for examples in EXAMPLES.values():
        for example in examples:
            for part in example.split("&&"):
                words = part.split()[1:]
                command = root
                while words and hasattr(loaded(command), "commands") and words[0] in loaded(command).commands:
                    command = loaded(command).commands[words.pop(0)]
                command = loaded(command)
                known = {flag for param in command.params for flag in (*param.opts, *param.secondary_opts)}
                for word in words:
                    if word.startswith("-") and word not in ("-c",):
                        assert word in known | {"--help"}, (example, word)


def _help_on_terminal(columns: int) -> str:
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "xterm", "NO_COLOR": "1"}
    process = subprocess.Popen([sys.executable, "-m", "clinicsync.sync.cli", "--help"],
                               stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=30)
    os.close(leader)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode())


@pytest.mark.parametrize("columns", [80, 120])
def test_terminal_help_draws_one_box_per_panel_with_examples(columns: int) -> None:
    out = _help_on_terminal(columns)
    titles = re.findall(r"╭─ (Set up|Daily|Inspect|Operate|Commands) ─", out)
    assert titles == list(PANELS)
    assert "$ clinicsync sync" in out
    assert max(len(line) for line in out.splitlines()) <= columns
