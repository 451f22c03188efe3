"""`clinicsync serve`"""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from clinicsync.sync.cli.context import app_context
from clinicsync.sync.server.app import create_app
from clinicsync.sync.server.serving import uvicorn_config
from clinicsync.sync.settings.server import ServerSettings


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="listen address (default: server.host)")] = None,
    port: Annotated[int | None, typer.Option(help="listen port (default: server.port)")] = None,
) -> None:
    """Serve webhooks, links, /healthz, /readyz and /metrics."""
    context = app_context(ctx)
    settings = context.settings
    server = settings.server or ServerSettings()
    app = create_app(settings, context.store)
    uvicorn.Server(uvicorn_config(app, server, host, port)).run()
