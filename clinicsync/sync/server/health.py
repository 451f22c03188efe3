"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from clinicsync.sync.store.db import current_revision, head_revision

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    """Answered on the event loop, never queued behind worker threads (store work, password
    checks), so a busy but healthy process is not killed by its liveness probe."""
    return {"status": "ok"}


@router.get("/readyz", summary="The store is reachable and its schema current",
            responses={503: {"description": "not ready, with the reason"}})
def readyz(request: Request) -> JSONResponse:
    store = request.app.state.store
    try:
        with store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        revision, head = current_revision(store.engine), head_revision()
    except Exception as exc:  # any failure to reach the store means not ready
        return JSONResponse({"status": "unavailable", "reason": f"store unreachable: {type(exc).__name__}"}, 503)
    if revision != head:
        return JSONResponse({"status": "unavailable",
                             "reason": f"schema at {revision}, expected {head}: run `clinicsync db upgrade`"}, 503)
    return JSONResponse({"status": "ready", "schema": revision})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
