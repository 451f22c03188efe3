"""The wheel installs one namespace, ``clinicsync``, and its entry points resolve inside it (issue 23).

Built with the project's own build backend, as ``pip install clinicsync`` would, then imported
from the unpacked wheel alone: the repository root is taken off ``sys.path`` first, so a module
that only resolves through the source checkout fails here.
"""
from __future__ import annotations

import ast
import configparser
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROOT_FOLDERS = ("connectors", "sync", "notifiers", "mappings")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not on PATH: the README's install command puts it there")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([uv, "build", "--wheel", "--out-dir", str(out), str(ROOT)], check=True,
                   capture_output=True, timeout=300)
    (built,) = out.glob("clinicsync-*.whl")
    return built


def test_every_module_in_the_wheel_lives_under_clinicsync(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"clinicsync", next(t for t in tops if t.endswith(".dist-info"))}
    packages = {name.split("/")[1] for name in names if name.startswith("clinicsync/") and name.count("/") > 1}
    assert packages == {*ROOT_FOLDERS, "common"}
    # data the code loads at run time travels with it
    assert "clinicsync/mappings/fhir_r4.yaml" in names
    assert "clinicsync/sync/store/migrations/env.py" in names
    assert any(name.startswith("clinicsync/sync/ui/templates/") for name in names)


def test_entry_points_resolve_from_the_unpacked_wheel(wheel: Path, tmp_path: Path) -> None:
    zipfile.ZipFile(wheel).extractall(tmp_path)
    (info,) = tmp_path.glob("clinicsync-*.dist-info")
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.read(info / "entry_points.txt")
    targets = [value.strip() for section in parser.sections() for value in parser[section].values()]
    assert "clinicsync.sync.cli:entry" in targets
    assert all(target.startswith("clinicsync.") for target in targets), targets
    probe = f"""
import importlib, json, sys
root = {str(ROOT)!r}
sys.path[:] = [{str(tmp_path)!r}] + [p for p in sys.path if p not in ("", root)]
found = {{}}
for target in {targets!r}:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    getattr(module, attribute)
    found[target] = module.__file__
print(json.dumps(found))
"""
    done = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    files = json.loads(done.stdout)
    assert set(files) == set(targets)
    assert all(Path(path).is_relative_to(tmp_path) for path in files.values()), files


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_nothing_imports_a_root_folder_by_its_bare_name() -> None:
    """`import sync` would load a second copy of a module beside `clinicsync.sync` (two registries, two engines)."""
    offenders = []
    for folder in (*ROOT_FOLDERS, "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            if "fixtures" in path.parts:
                continue
            if _imported_roots(path) & set(ROOT_FOLDERS):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
