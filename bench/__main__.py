"""``python -m bench`` (or ``bench/run``): every workload in turn, each printing its table.

Workloads are the modules ``bench/w*_*.py``, ``bench/m*_*.py`` and ``bench/s*_*.py`` (the scale
test), run in name order. Pick some by name (``python -m bench w1 m1``) or with ``--only w1,m1``.
Options are given once and each workload receives those it declares, so ``--rounds`` (interleaved
rounds, harness.add_rounds) reaches W1, W7 and S1 alone; an option no picked workload knows is an
error before anything runs, as is a bad value. Exit status 1 when a workload that judges its
figures (S1) finds a failure.

Sizes: a workload measures either one size (``--rows``: W1, M2) or a list (``--sizes``: M1,
W6). Each takes the flag it declares; given only the other one, it takes ``--rows N`` as
``--sizes N``, and the largest of ``--sizes`` as ``--rows``. Both together: each its own.

``python -m bench --help`` lists the workloads; ``python -m bench w1 --help`` shows W1's own
options.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import NoReturn

from bench.harness import Table, common_arguments, row_count, row_counts

HERE = Path(__file__).resolve().parent


def workloads() -> list[str]:
    names = sorted(p.stem for p in HERE.glob("[wms][0-9]_*.py"))
    return [n for n in names if not n.startswith("__")]


class UsageError(Exception):
    """A bad command line: one line for the person, exit status 2, nothing run."""


@dataclass
class Picked:
    """The command line read: the workloads picked, in run order, and the rest of argv."""

    names: list[str]
    rest: list[str]
    help: bool
    chosen: bool


def _short(name: str) -> str:
    return name.split("_")[0]


def _pick(argv: list[str]) -> Picked:
    known = {_short(n): n for n in workloads()} | {n: n for n in workloads()}
    asked: list[str] = []
    rest: list[str] = []
    shown_help = False
    tokens = iter(argv)
    for token in tokens:
        if token == "--only" or token.startswith("--only="):
            value = token.split("=", 1)[1] if "=" in token else next(tokens, "")
            asked += [part.strip() for part in value.split(",") if part.strip()]
            if not value:
                raise UsageError("--only needs a list of workloads, such as --only w1,m1")
        elif token in ("-h", "--help"):
            shown_help = True
        elif token in known:
            asked.append(token)
        else:
            rest.append(token)
    unknown = [name for name in asked if name not in known]
    if unknown:
        raise UsageError(f"no workload {unknown[0]!r}; there are {', '.join(_short(n) for n in workloads())}")
    chosen = {known[name] for name in asked}
    return Picked([n for n in workloads() if not chosen or n in chosen], rest, shown_help, bool(chosen))


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"bench.{name}")


def _parser(name: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = _module(name).arguments()
    parser.prog = f"python -m bench {_short(name)}"

    def fail(message: str) -> NoReturn:  # argparse's usage + message, as one line of ours
        raise UsageError(f"{_short(name)}: {message}")

    parser.error = fail  # type: ignore[method-assign]
    return parser


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def _split(rest: list[str], parsers: dict[str, argparse.ArgumentParser]) -> list[tuple[str, list[str]]]:
    """argv cut into (option, its tokens); an option no picked workload declares is an error."""
    groups: list[tuple[str, list[str]]] = []
    tokens = iter(rest)
    for token in tokens:
        if not token.startswith("-"):
            if token[:1] in ("w", "m") and token[1:2].isdigit():
                raise UsageError(f"no workload {token!r}; there are {', '.join(_short(n) for n in workloads())}")
            raise UsageError(f"{token!r}: not an option nor a workload (python -m bench --help)")
        option = token.split("=", 1)[0]
        actions = [p._option_string_actions[option] for p in parsers.values() if option in p._option_string_actions]
        if not actions:
            if option in ("--rows", "--sizes") and any(
                    o in p._option_string_actions for p in parsers.values() for o in ("--rows", "--sizes")):
                actions = [argparse.Action([option], "size")]
            else:
                names = ", ".join(_short(n) for n in parsers)
                raise UsageError(f"{option} is not an option of {names} (python -m bench <workload> --help)")
        if "=" in token or not _takes_value(actions[0]):
            groups.append((option, [token]))
        else:
            value = next(tokens, None)
            if value is None:
                raise UsageError(f"{option} needs a value")
            groups.append((option, [token, value]))
    return groups


def _value(group: list[str]) -> str:
    return group[0].split("=", 1)[1] if "=" in group[0] else group[1]


def workload_argv(parser: argparse.ArgumentParser, groups: list[tuple[str, list[str]]]) -> list[str]:
    """The options of ``groups`` this workload declares, with the size rule of the module doc."""
    has = parser._option_string_actions
    given = {option: tokens for option, tokens in groups}
    argv = [token for option, tokens in groups if option in has for token in tokens]
    if "--sizes" in has and "--sizes" not in given and "--rows" in given:
        argv += ["--sizes", _value(given["--rows"])]
    if "--rows" in has and "--rows" not in given and "--sizes" in given:
        sizes = [part.strip() for part in _value(given["--sizes"]).split(",")]
        argv += ["--rows", max(sizes, key=lambda s: int(s) if s.isdigit() else 0)]
    return argv


def plan(argv: list[str]) -> list[tuple[str, list[str]]]:
    """Each picked workload with its own argv, every one parsed (so checked) before any runs."""
    picked = _pick(argv)
    parsers = {name: _parser(name) for name in picked.names}
    groups = _split(picked.rest, parsers)
    for option, tokens in groups:
        check = {"--rows": row_count, "--sizes": row_counts}.get(option)
        try:
            if check is not None:
                check(_value(tokens))
        except argparse.ArgumentTypeError as error:
            raise UsageError(f"{option}: {error}") from None
    runs = [(name, workload_argv(parser, groups)) for name, parser in parsers.items()]
    for name, own in runs:
        parsers[name].parse_args(own)
    return runs


def overview() -> str:
    """``python -m bench --help``: the workloads, one line each, then the shared options."""
    shared = common_arguments("")
    shared.prog = "python -m bench [WORKLOAD ...] [--only w1,m1]"
    lines = [shared.format_usage().rstrip(), "", __doc__ or "", "workloads:"]
    lines += [f"  {_short(n):4} {n:20} {getattr(_module(n), 'PURPOSE', '')}" for n in workloads()]
    options = shared.format_help().split("options:", 1)[-1]
    return "\n".join(lines) + "\n\nshared options (every workload):" + options


def main(argv: list[str]) -> int:
    try:
        picked = _pick(argv)
        if picked.help:
            if not picked.chosen:
                print(overview())
            else:
                print("\n\n".join(_parser(name).format_help() for name in picked.names))
            return 0
        runs = plan(argv)
    except UsageError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    as_json = "--json" in argv
    results: list[Table] = []
    for name, own in runs:
        if not as_json:
            print(f"== {name}", flush=True)
        own = own if not as_json else [a for a in own if a != "--json"] + ["--quiet"]
        results.extend(_module(name).main(own))
    if as_json:
        print(json.dumps([t.as_dict() for t in results], indent=2, default=str))
    failed = [t.title for t in results if t.failed]
    for title in failed:
        print(f"bench: FAIL: {title}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
