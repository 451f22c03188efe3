"""`clinicsync hl7 …`: the HL7 v2 (SIU) listeners."""

from __future__ import annotations

import asyncio
import signal
import ssl
from typing import Annotated

import typer

from clinicsync.mappings.model import MappingLoadError
from clinicsync.sync.cli.context import EXIT_FAILED, app_context, err_console, fail_config
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.service.mllp import Listening, listener_configs, serve_mllp
from clinicsync.sync.store.store import Store

app = typer.Typer(help="HL7 v2 scheduling feeds (SIU over MLLP).", no_args_is_help=True)


def _announce(listening: list[Listening]) -> None:
    for item in listening:
        tls = " (TLS)" if item.tls else ""
        print(f"listening: {item.connector} on {item.host}:{item.port}{tls}", flush=True)


def _announce_metrics(host: str, port: int) -> None:
    print(f"metrics: http://{host}:{port}/metrics", flush=True)


async def _serve(settings: Settings, store: Store, only: list[str] | None,
                 metrics: tuple[str, int] | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve_mllp(settings, store, only, on_ready=_announce, stop=stop, metrics=metrics,
                     on_metrics=_announce_metrics)


@app.command("listen")
def listen(
    ctx: typer.Context,
    connector: Annotated[list[str] | None, typer.Option(help="only these connectors")] = None,
    metrics_port: Annotated[int | None, typer.Option(
        "--metrics-port", min=0, max=65535,
        help="serve the listeners' TLS figures (failed handshakes, reloads) at /metrics on this port")] = None,
    metrics_host: Annotated[str, typer.Option("--metrics-host", help="the address for --metrics-port")]
    = "127.0.0.1",
) -> None:
    """Receive SIU messages over MLLP until stopped (Ctrl-C or SIGTERM).

    Each hl7v2 connector with `listen:` gets its own port; every message is stored
    before it is acknowledged."""
    context = app_context(ctx)
    settings = context.settings
    if not listener_configs(settings, connector):
        wanted = f" named {connector}" if connector else ""
        fail_config(f"no enabled hl7v2 connector{wanted} with `listen:` in {settings.source}")
    store = context.store
    try:
        metrics = (metrics_host, metrics_port) if metrics_port is not None else None
        asyncio.run(_serve(settings, store, connector, metrics))
    except MappingLoadError as exc:
        fail_config(str(exc))
    except ssl.SSLError as exc:
        fail_config(f"listen.tls: cannot use the certificate or key: {exc.reason or exc}")
    except OSError as exc:
        err_console.print(f"[red]cannot listen: {exc.strerror or exc}[/red]", highlight=False)
        raise typer.Exit(EXIT_FAILED) from None
