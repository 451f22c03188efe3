"""Service memory over a long life: does `clinicsync run --serve` stay flat under
traffic whose keys never repeat, or does something grow with requests, ids or time?

A soak, not a workload of ``python -m bench`` (it takes minutes and prints its own report):

    uv run --frozen python -m bench.service_memory --minutes 10 --interval 30 --out /tmp/soak.json

It starts the real service (``clinicsync run --serve``, the CLI's own entry) in a child process
on a SQLite store in a temporary folder, with a REST API source, a Cal.com webhook, an outbox
notifier, a status-page token and user, and 127.0.0.1 as a trusted proxy. The child runs
``tracemalloc`` (1 frame) and a sampler thread that writes, every interval, its RSS, the traced
total and the allocation sites (file:line) that grew most since the baseline, taken once the
driver's warm-up is done (every route, cache and pool has been used once).

The load, from a few concurrent clients in this process, in rounds; every round sends:
a REST push of a new appointment (a new id and patient), a re-send of an earlier one (same
body: no change), a Cal.com BOOKING_CREATED with a new booking uid (and so a new receipt), a
failed basic-auth login with a new user name from a new X-Forwarded-For address, a request
with a method no client sends (a scanner's ``PROPFIND``-like token, a new one each round) and
a probe of a path that does not exist; every 5th round the status page viewed with the token;
every 10th a /metrics scrape and /healthz; every 20th a form login and logout (a session
started and revoked).

The report: RSS and traced memory at the baseline and at the end, the /metrics size at both,
and the growing sites. Growth that stops (a bounded memo filling) shows as a plateau in the
samples; growth that goes on with the rounds does not.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
KEY = "csk_soak-memory-0123456789abcdefghijklmnop"
SECRET = "soak-cal-secret-0123456789"
TOKEN = "Zq8v-Nw3rT5yLp0aXk7bMd2eHs9u"
PASSWORD = "correct horse battery"
CALCOM_FIXTURE = ROOT / "tests" / "fixtures" / "calcom" / "booking_created.json"
CLIENTS = 4


# -- the child: the service with a sampler --------------------------------------------------------
def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _sampler(folder: Path, interval: float) -> None:
    """Every ``interval``: RSS, traced memory, and the top growth by line since the baseline."""
    baseline: tracemalloc.Snapshot | None = None
    based = False
    out = folder / "samples.jsonl"
    while True:
        time.sleep(interval)
        tracing = tracemalloc.is_tracing()
        ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen *>")]
        snapshot = tracemalloc.take_snapshot().filter_traces(ignore) if tracing else None
        current, _peak = tracemalloc.get_traced_memory()
        sample: dict[str, Any] = {"t": time.time(), "rss_kib": _rss_kib(), "traced_kib": current // 1024,
                                  "threads": threading.active_count()}
        if not based and (folder / "warm").exists():
            baseline, based = snapshot, True
            sample["baseline"] = True
        elif baseline is not None and snapshot is not None:
            top = snapshot.compare_to(baseline, "lineno")[:25]
            sample["top"] = [{"site": f"{s.traceback[0].filename}:{s.traceback[0].lineno}",
                              "size_diff_kib": round(s.size_diff / 1024, 1), "count_diff": s.count_diff}
                             for s in top]
        with out.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(sample) + "\n")


def child(folder: str, interval: float, trace: bool) -> None:
    """The service as ``clinicsync run --serve`` starts it, traced (or RSS only)."""
    if trace:
        tracemalloc.start(1)
    threading.Thread(target=_sampler, args=(Path(folder), interval), daemon=True, name="soak-sampler").start()
    from clinicsync.sync.cli import app

    os.chdir(folder)
    app(["run", "--serve"], prog_name="clinicsync")


# -- the driver -----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_text(folder: Path, port: int) -> str:
    from clinicsync.common.passwords import hash_password
    from clinicsync.connectors.rest_api import key_digest

    (folder / "cal.secret").write_text(SECRET + "\n", encoding="utf-8")
    return textwrap.dedent(f"""\
        clinic: {{timezone: America/New_York, default_region: US}}
        store: {{url: "sqlite:///{folder / 'store.db'}"}}
        server: {{host: 127.0.0.1, port: {port}, trusted_proxies: ["127.0.0.1"]}}
        ui:
          token: "{TOKEN}"
          failures_allowed_per_kind: 10000
          lockout_seconds: 0.5
          max_lockout_seconds: 1
          users: [{{name: desk, password_hash: "{hash_password(PASSWORD)}"}}]
        connectors:
          - {{name: website, kind: rest_api, api_keys: [{{name: soak, sha256: "{key_digest(KEY)}"}}],
              rate_per_second: 1000, burst: 10000}}
          - {{name: booking, kind: calcom, secret_file: cal.secret, rate_per_second: 1000, burst: 10000}}
        notifiers:
          - {{name: outbox, kind: outbox, directory: {folder / 'outbox'}}}
        """)


def rest_body(n: int) -> dict[str, Any]:
    return {"id": f"soak-{n}", "status": "booked", "start": f"2031-{1 + n % 12:02d}-{1 + n % 28:02d}T09:30:00",
            "duration_minutes": 30, "timezone": "America/New_York", "type": "Follow-up",
            "patient": {"id": f"P-{n}", "name": "Ana Ruiz", "phone": "(212) 555-0101", "email": "ana@example.org",
                        "language": "es"},
            "practitioner": {"id": f"D-{n % 5}", "name": "Dr. Amelia Hart", "email": "hart@clinic.example.org"}}


def calcom_raw(n: int, template: dict[str, Any]) -> bytes:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    data = {**template, "createdAt": now, "payload": {**template["payload"], "uid": f"soak-{n}",
                                                      "startTime": "2031-01-01T10:00:00Z",
                                                      "endTime": "2031-01-01T10:30:00Z"}}
    return json.dumps(data, separators=(",", ":")).encode()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _address(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


async def _login_logout(client: httpx.AsyncClient, n: int) -> None:
    """A form login (its anti-forgery cookie first) and a logout: a session started and revoked."""
    page = await client.get("/ui/login", headers={"X-Forwarded-For": "192.0.2.10"})
    token = page.text.split('name="csrf" value="', 1)[-1].split('"', 1)[0]
    await client.post("/ui/login", data={"user": "desk", "password": PASSWORD, "csrf": token, "next": "/ui/"},
                      headers={"X-Forwarded-For": "192.0.2.10"})
    view = await client.get("/ui/", headers={"X-Forwarded-For": "192.0.2.10"})
    csrf = view.text.split('name="csrf" value="', 1)[-1].split('"', 1)[0]
    await client.post("/ui/logout", data={"csrf": csrf}, headers={"X-Forwarded-For": "192.0.2.10"})
    client.cookies.clear()


async def one_round(client: httpx.AsyncClient, n: int, template: dict[str, Any], statuses: dict[str, int]) -> None:
    def seen(kind: str, answer: httpx.Response) -> None:
        key = f"{kind}:{answer.status_code}"
        statuses[key] = statuses.get(key, 0) + 1

    auth = {"Authorization": f"Bearer {KEY}"}
    seen("rest_new", await client.post("/api/v1/appointments", json=rest_body(n), headers=auth))
    seen("rest_resend", await client.post("/api/v1/appointments", json=rest_body(max(0, n // 2)), headers=auth))
    raw = calcom_raw(n, template)
    signature = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    seen("calcom", await client.post("/webhooks/calcom/booking", content=raw,
                                     headers={"X-Cal-Signature-256": signature, "Content-Type": "application/json"}))
    seen("login_failed", await client.get("/ui/", headers={"Authorization": _basic(f"user{n}", "wrong"),
                                                           "X-Forwarded-For": _address(n)}))
    seen("odd_method", await client.request(f"X{n}", "/healthz"))
    seen("unknown_path", await client.get(f"/wp-admin/{n}.php"))
    if n % 5 == 0:
        seen("status_page", await client.get("/ui/", headers={"Authorization": f"Bearer {TOKEN}",
                                                              "X-Forwarded-For": "192.0.2.10"}))
    if n % 10 == 0:
        seen("metrics", await client.get("/metrics"))
        seen("healthz", await client.get("/healthz"))
    if n % 20 == 0:
        await _login_logout(client, n)


async def load(port: int, first: int, until: float, statuses: dict[str, int]) -> int:
    """Rounds from ``first`` on, from CLIENTS clients, until the monotonic time ``until``; the next round."""
    template = json.loads(CALCOM_FIXTURE.read_bytes())
    counter = {"n": first}

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            while time.monotonic() < until:
                n = counter["n"]
                counter["n"] += 1
                await one_round(client, n, template, statuses)

    await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    return counter["n"]


def _metrics_size(port: int) -> tuple[int, int]:
    """/metrics' size in bytes and its number of series (sample lines)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=60).text
    return len(text.encode()), sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def _wait_ready(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited: {(process.stdout.read() if process.stdout else b'').decode()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("service did not start")


def soak(minutes: float, interval: float, warm_seconds: float, trace: bool = True) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="soak-") as work:
        folder = Path(work)
        port = _free_port()
        (folder / "settings.yaml").write_text(settings_text(folder, port), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-m", "clinicsync", "db", "upgrade"], cwd=folder, env=env, check=True,
                       capture_output=True)
        log = (folder / "service.log").open("wb")
        process = subprocess.Popen([sys.executable, "-m", "bench.service_memory", "child", work, str(interval),
                                    "trace" if trace else "rss"],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        statuses: dict[str, int] = {}
        try:
            _wait_ready(process, port)
            rounds = asyncio.run(load(port, 0, time.monotonic() + warm_seconds, statuses))
            metrics_start = _metrics_size(port)
            (folder / "warm").touch()
            began_rounds = rounds
            time.sleep(interval * 1.5)  # the sampler takes its baseline
            rounds = asyncio.run(load(port, rounds, time.monotonic() + minutes * 60, statuses))
            metrics_end = _metrics_size(port)
            time.sleep(interval * 1.2)  # one more sample after the load
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()
        samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
        tail = (folder / "service.log").read_text(errors="replace")[-2000:]
    base = next(s for s in samples if s.get("baseline"))
    last = samples[-1]
    return {"minutes": minutes, "rounds_measured": rounds - began_rounds, "rounds_warm": began_rounds,
            "statuses": dict(sorted(statuses.items())),
            "rss_kib": {"baseline": base["rss_kib"], "end": last["rss_kib"]},
            "traced_kib": {"baseline": base["traced_kib"], "end": last["traced_kib"]},
            "metrics_bytes": {"baseline": metrics_start[0], "end": metrics_end[0]},
            "metrics_series": {"baseline": metrics_start[1], "end": metrics_end[1]},
            "series": [{k: s[k] for k in ("t", "rss_kib", "traced_kib", "threads")} for s in samples],
            "top_growth": last.get("top", []), "service_log_tail": tail}


def report(result: dict[str, Any]) -> str:
    rss, traced, metrics = result["rss_kib"], result["traced_kib"], result["metrics_bytes"]
    lines = [f"soak: {result['minutes']:g} min, {result['rounds_measured']} rounds measured "
             f"(+{result['rounds_warm']} warm-up), {CLIENTS} clients",
             f"statuses: {result['statuses']}",
             f"RSS: {rss['baseline'] / 1024:.1f} MiB at the baseline -> {rss['end'] / 1024:.1f} MiB at the end",
             f"traced (tracemalloc): {traced['baseline'] / 1024:.1f} MiB -> {traced['end'] / 1024:.1f} MiB",
             f"/metrics: {metrics['baseline']} bytes -> {metrics['end']} bytes; series "
             f"{result['metrics_series']['baseline']} -> {result['metrics_series']['end']}",
             "series (min, RSS MiB, traced MiB, threads):"]
    t0 = result["series"][0]["t"]
    lines += [f"  {(s['t'] - t0) / 60:5.1f}  {s['rss_kib'] / 1024:7.1f}  {s['traced_kib'] / 1024:7.1f}  {s['threads']}"
              for s in result["series"]]
    lines.append("top growth since the baseline (by line):")
    lines += [f"  {t['size_diff_kib']:>9.1f} KiB {t['count_diff']:>8} blocks  {t['site']}"
              for t in result["top_growth"]]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="measured load time (default 10)")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between samples (default 30)")
    parser.add_argument("--warm", type=float, default=30.0, help="warm-up seconds before the baseline (default 30)")
    parser.add_argument("--out", type=Path, help="write the whole result as JSON here too")
    parser.add_argument("--rss-only", action="store_true", help="no tracemalloc in the service: its RSS as "
                        "deployed (tracemalloc's own bookkeeping grows with the live blocks)")
    args = parser.parse_args(argv)
    result = soak(args.minutes, args.interval, args.warm, trace=not args.rss_only)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(report(result))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2], float(sys.argv[3]), sys.argv[4] == "trace")
    else:
        main(sys.argv[1:])
