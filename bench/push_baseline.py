"""W8's yardstick: a minimal FastAPI app that takes the same requests as clinicsync's push
path and does the least a correct receiver must — the REST body validated by the same
pydantic model (sync/server/api.py ``AppointmentCreate``), the Cal.com body's HMAC checked
on the raw bytes and its JSON parsed — then one ``INSERT`` of one row in one transaction,
on the same store (same engine options: sync/store/db.py ``make_engine``), in FastAPI's thread pool.

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations
at import, and a string one would not resolve to the pydantic model.
"""

import hashlib
import hmac
import json

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, Text, insert
from starlette.concurrency import run_in_threadpool

from clinicsync.sync.server.api import AppointmentCreate
from clinicsync.sync.store.db import make_engine

TABLE = Table("bench_w8_baseline", MetaData(), Column("id", Integer, primary_key=True),
              Column("external_id", String(255), nullable=False, unique=True), Column("body", Text))


def _store(engine: Engine, external_id: str, body: str) -> None:
    with engine.begin() as connection:
        connection.execute(insert(TABLE).values(external_id=external_id, body=body))


def app(url: str, key: str, secret: str) -> FastAPI:
    engine = make_engine(url)
    TABLE.metadata.create_all(engine)
    baseline = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @baseline.post("/api/v1/appointments", status_code=201)
    def create(body: AppointmentCreate, request: Request) -> JSONResponse:
        if request.headers.get("Authorization") != f"Bearer {key}":
            return JSONResponse({"detail": "unauthorized"}, status_code=401)
        _store(engine, body.id, body.model_dump_json(exclude_none=True))
        return JSONResponse({"id": body.id, "result": "created"}, status_code=201)

    @baseline.post("/webhooks/calcom/{name}")
    async def calcom(name: str, request: Request) -> JSONResponse:
        raw = await request.body()
        expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Cal-Signature-256", "")):
            return JSONResponse({"detail": "forbidden"}, status_code=403)
        data = json.loads(raw)
        await run_in_threadpool(_store, engine, f"{name}:{data['payload']['uid']}", raw.decode())
        return JSONResponse({"result": "created"})

    return baseline
