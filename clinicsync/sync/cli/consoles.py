"""rich's console for the CLI, imported only when something is drawn (terminal.py LazyConsole)."""

from __future__ import annotations

from rich.console import Console, ConsoleDimensions


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
