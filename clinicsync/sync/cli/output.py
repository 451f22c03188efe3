"""How lists and times leave the CLI, by destination: a table on a terminal, plain aligned
columns when piped (no box characters, never cut at 80 columns, greppable), or CSV/JSON with
--format. Times for people go through `clinicsync.common.shown_time` (the visit's own zone,
its short name when not the clinic's); machine forms (CSV, JSON) keep ISO 8601 UTC.

A list never hides rows silently: every list has a stated default --limit and --all, says
"showing N of M" (a table caption on a terminal, one line on stderr otherwise, so a pipe gets
only data) and carries `total`/`shown` in its JSON object."""

from __future__ import annotations

import csv
import enum
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import orjson
import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


class Format(enum.StrEnum):
    table = "table"
    plain = "plain"
    csv = "csv"
    json = "json"


FormatOption = Annotated[Format | None, typer.Option(
    "--format", "-f", case_sensitive=False,
    help="table (the default on a terminal), plain (the default when piped: aligned columns, no box), csv or json")]
UtcOption = Annotated[bool, typer.Option("--utc", help="times in UTC instead of the clinic's zone")]
DEFAULT_LIMIT = 200
LimitOption = Annotated[int, typer.Option(
    "--limit", "-n", min=1, help=f"show at most this many rows (default {DEFAULT_LIMIT}); the total is always said")]
AllOption = Annotated[bool, typer.Option("--all", help="show every row (no --limit)")]


class Output(enum.StrEnum):
    wide = "wide"


WideOption = Annotated[Output | None, typer.Option(
    "--output", "-o", case_sensitive=False,
    help="wide: every column at full width, one line a row, nothing cut "
         "(the default table fits the terminal, long texts cut with …)")]


def resolve_format(fmt: Format | None, console: Console, json_flag: bool = False) -> Format:
    """The format asked for, else by destination: a table on a terminal, plain columns when piped."""
    if json_flag:
        return Format.json
    if fmt is not None:
        return fmt
    return Format.table if console.is_terminal else Format.plain


def _parsed(value: str | datetime) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def moment(value: str | datetime | None, zone: ZoneInfo | str, utc: bool, *, locale: str | None = None,
           home_zone: str | None = None) -> str:
    """A moment for people: 'Tue, Nov 24, 2026, 8:45 AM' in ``zone`` (its short name appended
    when it is not ``home_zone``), through shown_time; with --utc '2026-11-24 13:45Z'."""
    if value is None or value == "":
        return ""
    parsed = _parsed(value)
    if utc:
        return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")
    from clinicsync.common.shown_time import shown_moment  # babel and its CLDR data: only to show a moment

    zone_name = zone.key if isinstance(zone, ZoneInfo) else zone
    return shown_moment(parsed, zone_name, locale, home_zone=home_zone or zone_name)


def times_note(zone_name: str, utc: bool) -> str:
    """Said once on every screen that shows moments to people (as the status page's header
    does): the clinic's zone, its abbreviation and offset now, or UTC with --utc. Without it a
    '4:15 AM' read on a UTC server, or by an admin elsewhere, is misread by hours. Machine
    forms need none: they are ISO 8601 UTC."""
    if utc:
        return "times in UTC"
    from clinicsync.common.timeutil import zone_label
    from clinicsync.common.types import utcnow

    return f"times in {zone_label(zone_name, utcnow())}, unless a zone follows the time"


def iso_utc(value: str | datetime | None) -> str:
    """The machine form of a moment: ISO 8601 in UTC with `Z` (CSV, JSON)."""
    if value is None or value == "":
        return ""
    return _parsed(value).astimezone(UTC).isoformat().replace("+00:00", "Z")


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def _write_csv(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    sys.stdout.flush()


def plain_lines(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned columns, two spaces apart, no box and no trailing blanks: what `cut`, `grep`
    and `awk` read (a cell's own spaces stay, so the header row names the columns)."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
            for line in [list(headers), *rows]]


def emit(console: Console, fmt: Format, headers: Sequence[str], rows: Sequence[Sequence[Any]],
         records: Any = None, title: str | None = None, caption: str | None = None) -> None:
    """``rows`` as a table, plain columns or CSV (with ``headers``); JSON prints ``records``."""
    if fmt is Format.json:
        print_json(records if records is not None else [dict(zip(headers, row, strict=True)) for row in rows])
        return
    if fmt is Format.csv:
        _write_csv(headers, rows)
        return
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    if fmt is Format.plain:
        console.print("\n".join(plain_lines(headers, cells)), markup=False, highlight=False, soft_wrap=True)
        return
    from rich.table import Table  # only to draw one: not for plain, CSV or JSON

    table = Table(*headers, title=title, caption=caption)
    for row in cells:
        table.add_row(*row)
    console.print(table)


def print_table(console: Console, table: Table) -> None:
    """A rich table on a terminal; piped, the same columns aligned without box characters
    (a title or caption stays a line of its own)."""
    if not console.is_terminal:
        table.box = None
        table.show_edge = False
        table.pad_edge = False
    console.print(table)


@dataclass(frozen=True)
class Column:
    """One column of a list: its header and value for people, and for machines (CSV).

    On a terminal the table is one line a row (rows wrapped to 2-3 lines at
    120 columns were hard to read): long texts are cut with … . A ``keep`` column (an id, a row number a person
    types back) is never cut; a ``wide`` column shows only with `-o wide` (and in CSV, JSON
    and plain output, which are never cut)."""

    header: str
    shown: Callable[[dict[str, Any]], Any]
    machine: Callable[[dict[str, Any]], Any] | None = None  # CSV; default: the shown value
    machine_header: str | None = None
    keep: bool = False
    wide: bool = False


def showing(shown: int, total: int, noun: str, limited: bool) -> str:
    """'showing 200 of 48,832 appointments (--limit N, or --all for every one)'."""
    text = f"showing {shown:,} of {total:,} {noun}"
    if shown < total and limited:
        text += " (--limit N for more, --all for every one)"
    return text


SHORT = 10  # a column this narrow (a status, a count) is never cut: cutting saves nothing


def fitted_widths(naturals: Sequence[int], kept: Sequence[bool], room: int) -> list[int]:
    """Column widths that fit ``room`` characters of cells: kept and short columns at their
    natural width, the others sharing what is left evenly (a column narrower than its share
    keeps its width and leaves the rest to the others); never under 4 (a letter and …)."""
    widths = list(naturals)
    flexible = sorted((i for i, n in enumerate(naturals) if not kept[i] and n > SHORT), key=lambda i: naturals[i])
    left = room - sum(n for i, n in enumerate(naturals) if i not in flexible)
    for position, index in enumerate(flexible):
        share = max(left // (len(flexible) - position), 4)
        widths[index] = min(naturals[index], share)
        left -= widths[index]
    return widths


def one_line_table(columns: Sequence[Column], cells: Sequence[Sequence[str]], *, title: str | None,
                   caption: str | None, width: int) -> Table:
    """A table whose rows take one line each in ``width`` columns: cells do not wrap, the
    texts that do not fit are cut with … , and a ``keep`` column (an id, a time, a row
    number) is never cut. Where even a letter of each other column would not leave the kept
    ones whole (80 columns), the rightmost of the others go, as kubectl's and gh's narrow
    tables do, and the caption names them with `-o wide`."""
    from rich.table import Table

    shown = list(range(len(columns)))
    while True:
        naturals = [max([len(columns[i].header), *(len(row[i]) for row in cells)]) for i in shown]
        room = width - (3 * len(shown) + 1)  # each cell's padding and the borders
        widths = fitted_widths(naturals, [columns[i].keep for i in shown], room)
        cuttable = [i for i in shown if not columns[i].keep]
        if sum(widths) <= room or len(cuttable) <= 1:
            break
        shown.remove(cuttable[-1])
    left_out = [c.header for i, c in enumerate(columns) if i not in shown]
    if left_out:
        more = f"-o wide for {', '.join(left_out)}"
        caption = f"{caption}; {more}" if caption else more
    table = Table(title=title, caption=caption)
    for index, size in zip(shown, widths, strict=True):
        table.add_column(columns[index].header, no_wrap=True, overflow="ellipsis", width=size)
    for row in cells:
        table.add_row(*(row[i] for i in shown))
    return table


def emit_list(out: Console, err: Console, fmt: Format, columns: Sequence[Column], rows: Sequence[dict[str, Any]],
              total: int, *, noun: str, limit: int | None, json_rows: Sequence[Any] | None = None,
              title: str | None = None, empty: str | None = None, times: str | None = None,
              output: Output | None = None) -> None:
    """One page of a list by destination, always with its total: JSON is an object
    ``{"total": M, "shown": N, "limit": L, "items": [...]}``; a table has "showing N of M"
    as its caption; plain and CSV say it on stderr, so the pipe gets only rows. ``times``
    (``times_note``) follows it where moments are shown for people: the table and plain
    forms, not CSV, whose moments are ISO 8601 UTC."""
    said = showing(len(rows), total, noun, limit is not None)
    for_people = f"{said}; {times}" if times and rows else said
    if fmt is Format.json:
        print_json({"total": total, "shown": len(rows), "limit": limit,
                    "items": list(json_rows if json_rows is not None else rows)})
        return
    if fmt is Format.csv:
        _write_csv([c.machine_header or c.header for c in columns],
                   [[(c.machine or c.shown)(row) for c in columns] for row in rows])
        err.print(said, markup=False, highlight=False, soft_wrap=True)
        return
    cells = [[c.shown(row) for c in columns] for row in rows]
    if fmt is Format.plain:
        if rows:
            emit(out, fmt, [c.header for c in columns], cells)
        err.print(for_people if rows or not empty else f"{empty} ({said})", markup=False, highlight=False,
                  soft_wrap=True)
        return
    if not rows and empty:
        out.print(empty, markup=False, highlight=False)
        return
    if output is Output.wide:
        _print_wide(out, columns, [["" if value is None else str(value) for value in row] for row in cells],
                    title=title, caption=for_people)
        return
    narrow = [(column, index) for index, column in enumerate(columns) if not column.wide]
    out.print(one_line_table([c for c, _ in narrow], [["" if row[i] is None else str(row[i]) for _, i in narrow]
                                                      for row in cells], title=title, caption=for_people,
                             width=out.size.width))


def _print_wide(out: Console, columns: Sequence[Column], cells: Sequence[Sequence[str]], *, title: str | None,
                caption: str) -> None:
    """`-o wide`, as kubectl's: every column at its full width and one line a row, the line as
    long as it needs (the terminal or pager folds it, no cell is ever cut or wrapped): a cut
    id is the one value `appointments show` needs."""
    from rich.console import Console

    table = one_line_table(columns, cells, title=title, caption=None, width=sys.maxsize)
    width = max(sum(column.width or 0 for column in table.columns) + 3 * len(table.columns) + 1, out.size.width)
    wide = Console(file=out.file, width=width, force_terminal=out.is_terminal, no_color=out.no_color,
                   highlight=False)
    wide.print(table, crop=False)
    out.print(caption, markup=False, highlight=False, soft_wrap=True)
