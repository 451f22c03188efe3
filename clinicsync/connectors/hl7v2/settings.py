"""Settings of the ``hl7v2`` connector kind: an MLLP listener, a drop folder of batch
files, or both, feeding one mapping."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from clinicsync.common.settings_base import SettingsModel, resolve_path
from clinicsync.common.timeutil import zone
from clinicsync.connectors.base import SOURCE_ZONE_HELP, STORED_TIMES_HELP, ConnectorSettings, StoredTimes

Encoding = Literal["auto", "utf-8", "cp1252", "latin-1", "ascii"]
# Every SIU trigger that concerns a patient's appointment; S23/S24 (blocked and opened
# time slots) and S25 (a query) are acknowledged and ignored unless listed.
APPOINTMENT_EVENTS = ("S12", "S13", "S14", "S15", "S16", "S17", "S18", "S19", "S20", "S21", "S22", "S26")


class TlsSettings(SettingsModel):
    cert_file: Path = Field(description="the listener's certificate chain (PEM)")
    key_file: Path = Field(description="its private key (PEM)")
    client_ca_file: Path | None = Field(
        None, description="when set, senders must present a certificate signed by this CA (mutual TLS)")

    @field_validator("cert_file", "key_file", "client_ca_file")
    @classmethod
    def _existing(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        path = resolve_path(value, info)
        if not path.is_file():
            raise ValueError(f"no such file {path}")
        return path


class KeepaliveSettings(SettingsModel):
    """TCP keepalive on each sender's connection: a sender whose host vanished (a power cut, a
    NAT or firewall that dropped the idle mapping, a cable pulled) sends no FIN or RST, and
    without probes its connection would be held until ``idle_timeout_seconds``. Probes also keep
    NAT and firewall mappings of an idle sender alive (AWS NAT gateways drop them after 350 s,
    Azure's load balancer after 4 minutes by default)."""

    idle_seconds: int = Field(60, ge=1, le=7200, description="a connection silent this long is probed")
    interval_seconds: int = Field(15, ge=1, le=600, description="between probes")
    count: int = Field(4, ge=1, le=30, description="unanswered probes after which the connection is closed "
                                                   "(a vanished sender is let go within idle + interval x count)")

    def dead_after_seconds(self) -> int:
        return self.idle_seconds + self.interval_seconds * self.count


class MllpSettings(SettingsModel):
    host: str = Field("127.0.0.1", description="address to listen on; 0.0.0.0 for every interface")
    port: int = Field(2575, ge=0, le=65535, description="2575 is HL7's registered port; 0 picks a free one")
    allowed_senders: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="sender addresses or networks (CIDR) allowed to connect; others are closed at once")
    tls: TlsSettings | None = None
    max_message_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576,
                                   description="a larger frame is answered AR and the connection closed")
    max_connections: int = Field(
        32, ge=1, le=1024, description="senders connected at once; more are closed at once (bounds memory: "
                                       "each may hold one partial frame of up to max_message_bytes)")
    idle_timeout_seconds: float = Field(
        900, gt=0, le=86400, description="a connection with no frame under way for this long is closed; "
                                         "senders reconnect")
    keepalive: KeepaliveSettings | None = Field(
        default_factory=KeepaliveSettings,
        description="TCP keepalive on senders' connections (60 s, then every 15 s, 4 probes: a vanished sender is "
                    "let go within 2 minutes); null turns it off")
    frame_timeout_seconds: float = Field(
        30, gt=0, le=3600, description="a frame must arrive whole within this time of its first byte; "
                                       "a trickled frame is dropped unacknowledged (the sender resends)")

    @field_validator("allowed_senders")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)") from None
        return value

    def allowed_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(item, strict=False) for item in self.allowed_senders]


class Hl7v2Settings(ConnectorSettings):
    kind: Literal["hl7v2"] = "hl7v2"
    mapping: str = Field("hl7v2_siu", description="a preset name from mappings/ or a path to a mapping YAML file")
    timezone: str | None = Field(None, description=SOURCE_ZONE_HELP)
    # HL7 v2 reads a time without an offset as the sender's local time (v2.5 2.A.22), and most
    # senders write it so; a sender that writes UTC without saying it is told apart here, not
    # by making UTC the visits' zone (discover tells which: sync/discover/hl7_clock.py).
    stored_times: StoredTimes = Field("local", description=STORED_TIMES_HELP)
    encoding: Encoding = Field("auto", description="auto: UTF-8, else Windows-1252")
    events: list[str] = Field(default_factory=lambda: list(APPOINTMENT_EVENTS),
                              description="SIU trigger events to apply; others are acknowledged and ignored")
    delete_triggers: list[str] = Field(default_factory=lambda: ["S17"],
                                       description="trigger events that delete the appointment")
    listen: MllpSettings | None = Field(None, description="receive messages over MLLP (`clinicsync hl7 listen`)")
    control_id_retention_days: int = Field(90, ge=1, description="how long message control ids are kept "
                                                                  "to recognise a resent message")
    drop_dir: Path | None = Field(None, description="folder of HL7 batch files, read by `sync`")
    archive_dir: Path | None = Field(None, description="processed files move here; unset keeps them")
    pattern: str = "*.hl7"
    settle_seconds: float = Field(5.0, ge=0, description="files modified more recently are left for later")
    batch_size: int = Field(500, ge=1, le=100_000)

    @field_validator("drop_dir", "archive_dir")
    @classmethod
    def _relative(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else resolve_path(value, info)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zone(value)
            except OSError:  # a name longer than any file name
                raise ValueError("unknown IANA time zone (e.g. America/New_York)") from None
        return value

    @field_validator("events", "delete_triggers")
    @classmethod
    def _triggers(cls, value: list[str]) -> list[str]:
        upper = [v.strip().upper() for v in value]
        bad = [v for v in upper if not (len(v) == 3 and v[0] == "S" and v[1:].isdigit())]
        if bad:
            raise ValueError(f"{bad} are not SIU trigger events (S12 … S26)")
        return upper

    @model_validator(mode="after")
    def _some_source(self) -> Hl7v2Settings:
        if self.listen is None and self.drop_dir is None:
            raise ValueError("give `listen:` (MLLP), `drop_dir:` (batch files), or both")
        return self
