"""How clinicsync runs its HTTP app under uvicorn: one configuration for `clinicsync serve`
and for `clinicsync run --serve`."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from clinicsync.sync.settings.server import ServerSettings


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
