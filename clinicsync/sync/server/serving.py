"""How clinicsync runs its HTTP app under uvicorn: one configuration for `clinicsync serve`
and for `clinicsync run --serve`."""

from __future__ import annotations

import gc

import uvicorn
from fastapi import FastAPI

from clinicsync.sync.config.settings.server import ServerSettings


def uvicorn_config(app: FastAPI, server: ServerSettings, host: str | None = None,
                   port: int | None = None) -> uvicorn.Config:
    """uvicorn's own access log prints raw paths (tokens); ours logs route templates. Forwarded
    headers are honoured only from `server.trusted_proxies`, never from uvicorn's default
    (127.0.0.1, or FORWARDED_ALLOW_IPS from the environment): the client address keys the
    login lockout, and a header any client writes must not choose it."""
    trusted = server.trusted_proxies
    return uvicorn.Config(app, host=host or server.host, port=port or server.port, access_log=False,
                          log_config=None, server_header=False, proxy_headers=bool(trusted),
                          forwarded_allow_ips=list(trusted))


def settle_heap() -> None:
    """Collect once, then move everything the start built (the app, its routes and models,
    SQLAlchemy's tables, the settings, every imported module: ~200,000 tracked objects) out of
    the collector's reach (``gc.freeze``), just before the server takes requests.

    Why (the bench's push workload, W8): a request's objects that are still alive when a young-generation pass
    runs are promoted, and every so many promotions CPython walks the whole old generation.
    With eight requests in flight many more of them are alive at each pass than with one, so
    the full passes came several times as often per request, and each walked the start's heap
    (~250 ms for a Cal.com server on SQLite, every lock and request waiting behind it): ~0.1 ms
    per request at 8 clients, none of it freeing anything the start built. Frozen, a full pass
    walks only what the requests left (~50,000 objects). What the start built stays alive for
    the process's life anyway; reference counting still frees what it drops."""
    gc.collect()
    gc.freeze()
