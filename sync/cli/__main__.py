"""`python -m sync.cli` runs the `clinicsync` command."""

from clinicsync.sync.cli import app

app(prog_name="clinicsync")
