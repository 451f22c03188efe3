"""The `server:` section."""

from __future__ import annotations

import ipaddress

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator

from clinicsync.common.settings_base import SettingsModel


class ServerSettings(SettingsModel):
    host: str = Field("127.0.0.1", description="listen address; 0.0.0.0 in a container")
    port: int = Field(8080, ge=1, le=65535)
    public_url: AnyHttpUrl | None = Field(
        None, description="the URL clients see (behind a proxy/ingress); webhook signatures are checked against it")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or networks (CIDR) of the reverse proxies in front of the server; only their "
                    "X-Forwarded-For/-Proto is honoured, and the client is the rightmost hop that is not one "
                    "of them. Empty (the default): forwarded headers are ignored and the peer is the client")
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="larger request bodies get 413")
    secret_key: SecretStr | None = Field(
        None, description="signs confirm/decline links; give it via ${VAR} or secret_key_file")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry.strip() == "*":
                raise ValueError("'*' would let any client choose its own address (and dodge the login "
                                 "lockout): list the proxies' addresses or networks, e.g. 10.0.0.0/8")
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (e.g. 10.0.0.0/8, 127.0.0.1)") from None
        return [entry.strip() for entry in value]
