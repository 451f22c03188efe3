"""`clinicsync serve`"""

from __future__ import annotations

from typing import Annotated

import typer

from clinicsync.sync.cli.context import app_context, err_console
from clinicsync.sync.cli.start_banner import start_banner


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="listen address (default: server.host)")] = None,
    port: Annotated[int | None, typer.Option(help="listen port (default: server.port)")] = None,
) -> None:
    """Serve webhooks, links, the status page (/ui), /healthz, /readyz and /metrics.

    Sends no reminder and pushes no calendar: that is `clinicsync run` (or `run --serve`)."""
    from clinicsync.sync.config.settings.server import ServerSettings

    context = app_context(ctx)
    settings = context.settings
    server = settings.server or ServerSettings()
    store = context.store
    # Said before FastAPI and the webhook handlers are imported (seconds on a loaded machine),
    # so the admin sees at once where to look and what is missing.
    err_console.print(start_banner(settings, "serve", host=host or server.host, port=port or server.port),
                      highlight=False, markup=False, soft_wrap=True)
    import uvicorn

    from clinicsync.sync.server.app import create_app
    from clinicsync.sync.server.serving import settle_heap, uvicorn_config

    app = create_app(settings, store)
    config = uvicorn_config(app, server, host, port)
    settle_heap()  # the start's heap out of the collector's walks (serving.py)
    uvicorn.Server(config).run()
