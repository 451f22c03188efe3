"""A sender whose host vanishes mid-connection, for real: run inside a network namespace of
its own (``unshare --net``, root), where taking the loopback down leaves both ends' sockets
open with no packet between them, as a power cut or a NAT that dropped its mapping does (no
FIN, no RST). Prints, as JSON, how long the listener held the connection after that and what
it logged. ``python -m tests.connectors.vanished_sender '{"keepalive": ...}' [wait seconds]``;
tests/connectors/test_hl7v2_mllp_conn.py runs it. Measured before the listener set TCP keepalive:
such a sender was held 900 s with the defaults (30 s with ``idle_timeout_seconds: 30``), ~5 kB
of Python objects for plain TCP and ~270 kB for TLS meanwhile."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
from typing import Any

from clinicsync.common.logs import configure_logging
from clinicsync.connectors.hl7v2.mllp import MllpListener, frame
from clinicsync.connectors.hl7v2.settings import MllpSettings


async def held(listen: dict[str, Any], wait: float) -> dict[str, Any]:
    async def handler(payload: bytes, peer: str) -> bytes:
        return b"MSH|^~\\&|ACK"

    listener = MllpListener("siu", MllpSettings.model_validate({"port": 0, **listen}), handler)
    _host, port = await listener.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(frame(b"MSH|^~\\&|EPIC"))
    await writer.drain()
    ack = await reader.readuntil(b"\x1c\r")
    subprocess.run(["ip", "link", "set", "lo", "down"], check=True)  # the sender's host is gone
    gone = time.monotonic()
    while listener._connections and time.monotonic() - gone < wait:
        await asyncio.sleep(0.05)
    out = {
        "acked": ack.startswith(b"\x0b"),
        "still_held": bool(listener._connections),
        "held_seconds": round(time.monotonic() - gone, 2),
    }
    writer.transport.abort()
    await listener.close()
    return out


def main() -> None:
    logs = io.StringIO()
    configure_logging("info", "json", stream=logs)
    listen = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    wait = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    out = asyncio.run(held(listen, wait))
    out["events"] = [
        (entry["event"], entry["level"])
        for line in logs.getvalue().splitlines()
        if (entry := json.loads(line))["event"] not in ("mllp.listening",)
    ]
    print(json.dumps(out))


def can_vanish() -> bool:
    """Whether this machine lets a test take a network namespace of its own (root, unshare, ip)."""
    try:
        return (
            subprocess.run(
                ["unshare", "--net", "ip", "link", "set", "lo", "up"], capture_output=True, timeout=10
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


if __name__ == "__main__":
    main()
