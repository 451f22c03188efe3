"""The `server:` section."""

from __future__ import annotations

from pydantic import AnyHttpUrl, Field, SecretStr

from clinicsync.common.settings_base import SettingsModel


class ServerSettings(SettingsModel):
    host: str = Field("127.0.0.1", description="listen address; 0.0.0.0 in a container")
    port: int = Field(8080, ge=1, le=65535)
    public_url: AnyHttpUrl | None = Field(
        None, description="the URL clients see (behind a proxy/ingress); webhook signatures are checked against it")
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="larger request bodies get 413")
    secret_key: SecretStr | None = Field(
        None, description="signs confirm/decline links; give it via ${VAR} or secret_key_file")
