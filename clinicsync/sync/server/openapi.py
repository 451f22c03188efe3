"""The OpenAPI schema, for the people who run clinicsync: served at /openapi.json only to the
status page's users (bearer token or basic auth), never to the internet at large, which
needs no map of the webhooks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from clinicsync.sync.ui.auth import require_user

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json", dependencies=[Depends(require_user)])
def openapi_schema(request: Request) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi()
    return schema
