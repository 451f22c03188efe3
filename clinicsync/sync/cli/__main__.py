"""`python -m sync.cli` runs the `clinicsync` command."""

from functools import partial

from clinicsync.sync.cli import app, process_end

process_end.run(partial(app, prog_name="clinicsync"))
