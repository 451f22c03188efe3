"""How lists and times leave the CLI: a table on a terminal, full-width plain text when
piped (never cut at 80 columns), or JSON/CSV with --format; times in the clinic's zone with
the UTC offset shown, or UTC with --utc."""

from __future__ import annotations

import csv
import enum
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
import typer
from rich.console import Console, ConsoleDimensions
from rich.table import Table


class Format(enum.StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOption = Annotated[Format, typer.Option("--format", "-f", help="table, json or csv", case_sensitive=False)]
UtcOption = Annotated[bool, typer.Option("--utc", help="times in UTC instead of the clinic's zone")]


class FullWidthWhenPiped(Console):
    """A console that does not fold or cut lines when stdout is a file or a pipe: rich
    otherwise assumes 80 columns and shortens table cells to `2026-11-23T13:0…`."""

    @property
    def size(self) -> ConsoleDimensions:
        real = Console.size.fget(self)  # type: ignore[attr-defined]
        return real if self.is_terminal else ConsoleDimensions(100_000, real.height)

    @size.setter
    def size(self, value: tuple[int, int]) -> None:
        Console.size.fset(self, value)  # type: ignore[attr-defined]


def moment(value: str | datetime | None, zone: ZoneInfo, utc: bool) -> str:
    """'2026-11-23 08:00 -05:00' in the clinic's zone, or '2026-11-23 13:00Z' with --utc."""
    if value is None or value == "":
        return ""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if utc:
        return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")
    try:
        local = parsed.astimezone(zone)
    except OverflowError:  # a row from before clinic.plausible_dates (year 1): shown as stored
        return parsed.strftime("%Y-%m-%d %H:%MZ")
    offset = local.strftime("%z")
    return f"{local.strftime('%Y-%m-%d %H:%M')} {offset[:3]}:{offset[3:]}"


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def emit(console: Console, fmt: Format, headers: Sequence[str], rows: Sequence[Sequence[Any]],
         records: Any = None, title: str | None = None) -> None:
    """``rows`` as a table (or CSV with ``headers``); JSON prints ``records`` (the machine form)."""
    if fmt is Format.json:
        print_json(records if records is not None else [dict(zip(headers, row, strict=True)) for row in rows])
        return
    if fmt is Format.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
        sys.stdout.flush()
        return
    table = Table(*headers, title=title)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
