"""Every mapping example in docs/mappings.md loads as written (a doc that teaches a
broken mapping is a bug)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clinicsync.mappings.engine import load_mapping

DOC = Path(__file__).parents[2] / "docs" / "mappings.md"
EXAMPLES = [block for block in re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
            if block.lstrip().startswith(("name:", "# mappings/"))]


def test_the_reference_has_examples() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_example_loads(example: str, tmp_path: Path) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(example, encoding="utf-8")
    assert load_mapping(str(path), "America/New_York", "US").preset.fields
