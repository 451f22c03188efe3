"""`python -m clinicsync`: the same commands as the `clinicsync` script, for a venv without it on PATH."""

from clinicsync.sync.cli import entry

entry()
