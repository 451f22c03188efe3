"""The CPU of an idle `clinicsync sync --once` (what cron runs) against a bare
`python -c pass`, in the same run.

    python -m bench.idle_once DEMO_DIR [--rounds 7] [--before TREE] [--bare]

DEMO_DIR holds a demo copy (settings.yaml and examples/ of the repository, `clinicsync demo
reset` then one `sync --once`, so the next is idle: one CSV source, nothing new). Each
command is a fresh process started in DEMO_DIR; its CPU (user + system) is the kernel's
accounting of the finished child (getrusage RUSAGE_CHILDREN), so waiting for a busy CPU does
not count. Rounds are interleaved (pass, before, after, pass, …) so that a load spike falls
on every case alike; one warm-up round first writes the bytecode caches. ``--before TREE``: an
export of another commit (`git archive`) run with the same interpreter (PYTHONPATH=TREE), for
a before/after comparison in one run. It may be given more than once (each tree is one
row, in the order given), and as ``TREE=DIR`` to run that tree in a demo folder of its own: a
commit older than the store's schema refuses a store that a newer one migrated. ``--bare``: also
bench/idle_bare.py on the same source and store (what an idle poll must do and no more), and the
ratio of `sync --once` to it, round by round.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path


def _cpu(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--before", action="append", default=[],
                        help="an exported tree of a commit to compare with, or TREE=DEMO_DIR (repeatable)")
    parser.add_argument("--bare", action="store_true",
                        help="also the bare script that polls the same source (bench/idle_bare.py)")
    args = parser.parse_args()
    # Without PYTHONDONTWRITEBYTECODE (this machine sets it), so that the warm-up round writes
    # each tree's bytecode: otherwise a tree never compiled pays its compilation every run.
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    cases: dict[str, tuple[list[str], dict[str, str], Path]] = {
        "python -c pass": ([sys.executable, "-c", "pass"], env, args.demo)}
    sync = [sys.executable, "-m", "clinicsync", "sync", "--once"]
    for before in args.before:
        tree, _, demo = before.partition("=")
        name = "sync --once (before)" if len(args.before) == 1 else f"sync --once ({Path(tree).name})"
        cases[name] = (sync, {**env, "PYTHONPATH": tree}, Path(demo) if demo else args.demo)
    if args.bare:
        cases["bare connect-and-query"] = (_bare_command(args.demo), env, args.demo)
    cases["sync --once"] = (sync, env, args.demo)
    for command, environment, cwd in cases.values():  # warm-up: bytecode caches, the store's first touch
        _cpu(command, cwd, environment)
    load = os.getloadavg()[0]
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, (command, environment, cwd) in cases.items():
            cpu[name].append(_cpu(command, cwd, environment))
    print(f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}, {args.rounds} rounds")
    print("| command | CPU median | CPU min |\n|---|---|---|")
    for name, values in cpu.items():
        print(f"| `{name}` | {statistics.median(values):.3f} s | {min(values):.3f} s |")
    for name, values in cpu.items():
        if name != "sync --once":
            ratio = statistics.median(a / b for a, b in zip(cpu["sync --once"], values, strict=True))
            print(f"`sync --once` / `{name}`: {ratio:.2f} (median of the rounds' ratios)")


def _bare_command(folder: Path) -> list[str]:
    """bench/idle_bare.py for the folder's first source and its SQLite store (bench/idle_prepare.py
    makes both kinds of folder)."""
    import re

    import yaml

    data = yaml.safe_load((folder / "settings.yaml").read_text(encoding="utf-8"))
    found = re.search(r"sqlite:///([^}\s']+)", str(data["store"]["url"]))
    if found is None:
        raise SystemExit("--bare: the folder's store is not a SQLite file")
    store = str(folder / found.group(1))
    source = data["connectors"][0]
    script = str(Path(__file__).resolve().parent / "idle_bare.py")
    if source["kind"] == "sql":
        return [sys.executable, script, "sql", store, source["name"], source["url"], source["query"]]
    return [sys.executable, script, "csv", store, source["name"], str(folder / source["drop_dir"])]


if __name__ == "__main__":
    main()
