"""PyYAML's check of the characters YAML allows is compiled on its first use, not when yaml is
imported (clinicsync/common/yaml_printable.py, issue 60: ~57 M instructions of an idle run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from clinicsync.common.yaml_printable import NON_PRINTABLE
from tests.cli_start.conftest import settings_text


def test_the_deferred_pattern_is_pyyamls_own() -> None:
    """PyYAML changing its pattern would leave the stand-in unused: the import compiles again."""
    assert yaml.reader.Reader.NON_PRINTABLE.pattern == NON_PRINTABLE


PROBE = """
import sys
from clinicsync.sync.cli import app
try:
    app(["sync", "--once"], prog_name="clinicsync")
except SystemExit as exc:
    assert not exc.code, exc.code
import yaml
check = yaml.reader.Reader.NON_PRINTABLE
print(type(check).__name__, check.compiled)
try:
    yaml.safe_load("a: \\x07")
except yaml.YAMLError as exc:
    print(str(exc).splitlines()[0], check.compiled)
"""


def test_an_idle_sync_never_compiles_it_and_the_pure_python_reader_still_refuses(tmp_path: Path) -> None:
    settings = settings_text(tmp_path, 'logging: {level: "${CLINICSYNC_TEST_UNSET_LEVEL:-info}"}\n')
    (tmp_path / "settings.yaml").write_text(settings, encoding="utf-8")
    for _ in range(2):  # the first run migrates the new store, the second is idle
        done = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == [
        "CompiledOnFirstUse False",  # the whole-value reference was typed by libyaml
        "unacceptable character #x0007: special characters are not allowed True"], done.stdout
