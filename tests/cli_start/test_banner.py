"""`serve` says at start where it listens, where the status page and answer pages are, who may
log in (names and roles, never a hash), and what it will not do (issue 31, obs 6)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from clinicsync.common.passwords import hash_password
from clinicsync.sync.cli.start_banner import start_banner
from clinicsync.sync.config.settings import load_settings
from tests.cli_start.conftest import settings_text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def banner_of_serve(tmp_path: Path, port: int, timeout: float = 90) -> str:
    """Start `serve`, read stderr up to the banner's last line, stop it."""
    child = subprocess.Popen([sys.executable, "-m", "clinicsync", "serve", "--port", str(port)], cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "COLUMNS": "300"})
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        assert child.stderr is not None
        while time.monotonic() < deadline:
            line = child.stderr.readline()
            if not line:
                break
            lines.append(line)
            if line.lstrip().startswith("not done here"):
                break
    finally:
        child.terminate()
        child.wait(timeout=30)
    return "".join(lines)


def test_serve_says_where_it_listens_who_may_log_in_and_what_it_does_not_do(tmp_path: Path) -> None:
    digest = hash_password("a desk password")
    (tmp_path / "settings.yaml").write_text(settings_text(tmp_path, f"""\
        server: {{public_url: "https://clinic.example.org"}}
        ui:
          users:
            - {{name: desk, role: front_desk, password_hash: "{digest}"}}
            - {{name: doctor, password_hash: "{digest}"}}
        """), encoding="utf-8")
    port = free_port()
    banner = banner_of_serve(tmp_path, port)
    assert f"127.0.0.1:{port}" in banner
    assert f"http://127.0.0.1:{port}/ui" in banner and "https://clinic.example.org/ui" in banner
    assert "https://clinic.example.org/r/" in banner
    assert "desk (front_desk), doctor (viewer)" in banner
    assert "reminders are sent by `clinicsync run`" in banner and "calendar pushes" in banner
    assert "argon2" not in banner and digest not in banner
    assert banner.index("clinicsync serve") < banner.index("not done here")  # one block, in order


def test_without_a_status_page_user_the_banner_warns(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text(settings_text(tmp_path), encoding="utf-8")
    settings = load_settings(tmp_path / "settings.yaml")
    banner = start_banner(settings, "serve", host="0.0.0.0", port=8080)
    assert "0.0.0.0:8080 (every interface)" in banner and "http://127.0.0.1:8080/ui" in banner
    assert "WARNING: no status-page user" in banner and "clinicsync ui hash-password" in banner
    assert "server.public_url is not set" in banner


def test_run_without_serve_says_it_serves_no_http(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text(settings_text(tmp_path), encoding="utf-8")
    banner = start_banner(load_settings(tmp_path / "settings.yaml"), "run")
    assert banner.startswith("clinicsync run: polls desk; sends due reminders")
    assert "no HTTP server" in banner and "run --serve" in banner and "/ui" in banner


def test_run_names_the_sources_it_follows_rather_than_polls(tmp_path: Path) -> None:
    text = settings_text(tmp_path).replace(
        "connectors:\n", "connectors:\n  - {name: site, kind: rest_api, api_keys: [{name: web, sha256: '"
        + "0" * 64 + "'}]}\n")
    (tmp_path / "settings.yaml").write_text(text, encoding="utf-8")
    banner = start_banner(load_settings(tmp_path / "settings.yaml"), "run")
    assert banner.startswith("clinicsync run: polls desk; follows what site push(es) every minute; sends due")
