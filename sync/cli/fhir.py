"""`clinicsync fhir …`: tools for setting up a FHIR connector."""

from __future__ import annotations

from typing import Annotated

import typer

from clinicsync.connectors.fhir.auth import public_jwks
from clinicsync.connectors.fhir.keys import load_private_key
from clinicsync.connectors.fhir.settings import FhirSettings
from clinicsync.sync.cli.context import app_context, fail_config, print_json

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
