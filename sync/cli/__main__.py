"""`python -m sync.cli` runs the `clinicsync` command."""

from sync.cli import app

app(prog_name="clinicsync")
