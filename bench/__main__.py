"""``python -m bench`` (or ``bench/run``): every workload in turn, each printing its table.

Workloads are the modules ``bench/w*_*.py`` and ``bench/m*_*.py``, run in name order; the
flags (--smoke, --json, --no-postgres) are passed to each. ``--only w1,m1`` picks some.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from bench.harness import Table

HERE = Path(__file__).resolve().parent


def workloads() -> list[str]:
    names = sorted(p.stem for p in HERE.glob("[wm][0-9]_*.py"))
    return [n for n in names if not n.startswith("__")]


def main(argv: list[str]) -> int:
    only: set[str] = set()
    if "--only" in argv:
        at = argv.index("--only")
        only = {part.strip() for part in argv[at + 1].split(",")}
        argv = argv[:at] + argv[at + 2:]
    as_json = "--json" in argv
    results: list[Table] = []
    for name in workloads():
        if only and name.split("_")[0] not in only:
            continue
        if not as_json:
            print(f"== {name}", flush=True)
        module = importlib.import_module(f"bench.{name}")
        results.extend(module.main(argv if not as_json else [a for a in argv if a != "--json"] + ["--quiet"]))
    if as_json:
        print(json.dumps([t.as_dict() for t in results], indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
