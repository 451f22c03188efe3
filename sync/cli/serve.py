"""`clinicsync serve`"""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from sync.cli.context import app_context
from sync.server.app import create_app
from sync.server.serving import uvicorn_config
from sync.server.settings import ServerSettings


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
