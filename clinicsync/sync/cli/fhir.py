"""`clinicsync fhir …`: tools for setting up a FHIR connector."""

from __future__ import annotations

from typing import Annotated

import typer

from clinicsync.connectors.base import ConnectorError
from clinicsync.connectors.fhir.auth import public_jwks
from clinicsync.connectors.fhir.connector import FhirConnector
from clinicsync.connectors.fhir.keys import load_private_key
from clinicsync.connectors.fhir.settings import FhirSettings
from clinicsync.connectors.fhir.subscribe import create_subscription
from clinicsync.sync.cli.context import EXIT_FAILED, app_context, err_console, fail_config, print_json
from clinicsync.sync.ingest.subscriptions import note_subscribed
from clinicsync.sync.server.fhir_hooks import public_endpoint

app = typer.Typer(help="FHIR connector tools.", no_args_is_help=True)


@app.command("jwks")
def jwks_command(
    ctx: typer.Context,
    connector: Annotated[str | None, typer.Option(help="the fhir connector (needed when there are several)")] = None,
) -> None:
    """Print the public JWKS to register with the EHR for SMART Backend Services."""
    smart = [c for c in app_context(ctx).settings.connectors
             if isinstance(c, FhirSettings) and c.auth.kind == "smart_backend"
             and (connector is None or c.name == connector)]
    if len(smart) != 1:
        which = f"named {connector!r} " if connector else ""
        found = "none" if not smart else ", ".join(c.name for c in smart) + " (pick one with --connector)"
        fail_config(f"no single fhir connector {which}with auth kind smart_backend: {found}")
    auth = smart[0].auth
    assert auth.private_key is not None and auth.kid is not None
    key = load_private_key(auth.private_key.get_secret_value(), auth.algorithm)
    print_json(public_jwks(key, auth.algorithm, auth.kid))


@app.command("subscribe")
def subscribe_command(
    ctx: typer.Context,
    connector: Annotated[str, typer.Argument(help="the fhir connector with a `subscription:` section")],
) -> None:
    """Create the connector's Subscription on the FHIR server (R4 rest-hook, or topic-based
    when `subscription.topic` is set) so that it pushes changes to /hooks/fhir/CONNECTOR."""
    settings = app_context(ctx).settings
    config = next((c for c in settings.connectors if isinstance(c, FhirSettings) and c.name == connector), None)
    if config is None:
        fail_config(f"no fhir connector named {connector!r}")
    if config.subscription is None:
        fail_config(f"connector {connector}: add a `subscription:` section (secret, payload; see "
                    "docs/connectors/fhir_subscriptions.md)")
    endpoint = config.subscription.endpoint or public_endpoint(settings, connector)
    if endpoint is None:
        fail_config(f"connector {connector}: set subscription.endpoint or server.public_url, the address the "
                    "FHIR server calls")
    client = FhirConnector(config)
    try:
        created, action, others = create_subscription(client.client, config.subscription, endpoint)
    except ConnectorError as exc:
        err_console.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        client.close()
    # The watch on it starts now (`status` says when it stops pushing: sync/checks/stalls.py).
    note_subscribed(app_context(ctx).store_engine.engine, connector, created.get("id"), created.get("status"))
    print_json({"connector": connector, "id": created.get("id"), "status": created.get("status"), "action": action,
                "other_subscriptions": others,
                "endpoint": endpoint, "kind": "topic" if config.subscription.topic else "rest-hook",
                "criteria": created.get("criteria"), "payload": config.subscription.payload})
