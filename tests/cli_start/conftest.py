"""The CLI as an admin starts it: a real `python -m clinicsync` process, its own settings file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]


def settings_text(tmp_path: Path, extra: str = "") -> str:
    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    return textwrap.dedent(f"""\
        clinic: {{timezone: America/New_York, default_region: US}}
        store: {{url: "sqlite:///{tmp_path / 'store.db'}"}}
        connectors:
          - {{name: desk, kind: csv, mapping: csv_default, drop_dir: {drop}}}
        notifiers:
          - {{name: outbox, kind: outbox, directory: {tmp_path / 'outbox'}}}
        """) + textwrap.dedent(extra)


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """``run(*args, env=…, stdin=…)``: clinicsync in a subprocess, in ``tmp_path``, never hanging."""

    def call(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, "COLUMNS": "200", **(env or {})}
        return subprocess.run([sys.executable, "-m", "clinicsync", *args], cwd=tmp_path, env=environment,
                              input=stdin if stdin is not None else "", capture_output=True, text=True,
                              timeout=timeout, check=False)

    return call
