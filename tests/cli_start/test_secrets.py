"""A command that talks to no source or channel runs without their secrets (issue 31, obs 7);
one that does still names the unset key, its line and the variable, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_start.conftest import Run, settings_text

HOOK = """\
server: {secret_key: "${CLINICSYNC_TEST_UNSET_LINK_KEY}"}
"""


def test_read_only_commands_run_without_a_peers_secret(tmp_path: Path, run: Run) -> None:
    text = settings_text(tmp_path, HOOK).replace(
        "connectors:\n", "connectors:\n  - {name: hooks, kind: calcom, secret: \"${CLINICSYNC_TEST_UNSET_SECRET}\"}\n")
    (tmp_path / "settings.yaml").write_text(text, encoding="utf-8")
    listed = run("appointments", "list", "--format", "json")  # opens (and migrates) the SQLite store
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["items"] == []
    status = run("status", "--format", "json")
    assert status.returncode == 0, status.stderr
    assert {row["connector"] for row in json.loads(status.stdout)["connectors"]} == set()
    validated = run("config", "validate")
    assert validated.returncode == 0, validated.stderr
    assert "valid" in validated.stdout and "CLINICSYNC_TEST_UNSET_SECRET" in validated.stderr

    synced = run("sync", "--once")  # talks to the sources: the secret is needed, and said so
    assert synced.returncode == 2
    assert "connectors[0].secret (line 4): environment variable CLINICSYNC_TEST_UNSET_SECRET is not set" \
        in synced.stderr
    assert "server.secret_key (line 8): environment variable CLINICSYNC_TEST_UNSET_LINK_KEY" in synced.stderr
    assert "Traceback" not in synced.stderr

