"""The `clinicsync` command."""

from sync.cli.main import app

__all__ = ["app"]
