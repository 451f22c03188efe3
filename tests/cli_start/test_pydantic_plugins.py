"""plugins.quiet_pydantic_plugins: pydantic is spared its own scan of every distribution only
when this process's scan found no pydantic plugin; an installed one is still loaded by pydantic.
In a fresh interpreter each (pydantic looks for its plugins once per process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import os
import clinicsync.common.schedule  # builds a settings model (its DEFAULT_POLL)
print("DISABLED", os.environ.get("PYDANTIC_DISABLE_PLUGINS"))
"""

PLUGIN = """
class _Seen:
    def new_schema_validator(self, *args, **kwargs):
        print("PLUGIN SEEN", flush=True)
        return None, None, None

plugin = _Seen()
"""


def _probe(extra_path: Path | None = None) -> str:
    env = {key: value for key, value in os.environ.items() if key != "PYDANTIC_DISABLE_PLUGINS"}
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60,
                          check=False, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_no_pydantic_plugin_installed_pydantic_is_told_so() -> None:
    assert _probe().strip().endswith("DISABLED __all__")


def test_an_installed_pydantic_plugin_is_still_loaded(tmp_path: Path) -> None:
    (tmp_path / "seen_plugin.py").write_text(PLUGIN, encoding="utf-8")
    info = tmp_path / "seen_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: seen-plugin\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[pydantic]\nseen = seen_plugin:plugin\n", encoding="utf-8")
    out = _probe(tmp_path)
    assert "PLUGIN SEEN" in out and out.strip().endswith("DISABLED None"), out
