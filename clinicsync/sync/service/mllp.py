"""The HL7 v2 listeners as a service: every enabled ``hl7v2`` connector with ``listen:``
gets its own MLLP listener, mapping and receiver. ``clinicsync hl7 listen`` runs
``serve_mllp``; a host process (``run``/``serve``) can ``start()``/``stop()`` an
``Hl7Service`` inside its own event loop instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from clinicsync.connectors.hl7v2.mllp import Handler, MllpListener
from clinicsync.connectors.hl7v2.settings import Hl7v2Settings
from clinicsync.connectors.hl7v2.tls import CHECK_EVERY_SECONDS, ListenerTls
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.mllp_receiver import Receiver
from clinicsync.sync.ingest.reports import new_run_id
from clinicsync.sync.ingest.source_settings import mapping_for
from clinicsync.sync.runs.mllp_state import ListenerState, forget_listener, note_listener
from clinicsync.sync.store.store import Store

log = structlog.get_logger("clinicsync.hl7v2")
_FORGET_EVERY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Listening:
    connector: str
    host: str
    port: int
    tls: bool


def listener_configs(settings: Settings, only: list[str] | None = None) -> list[Hl7v2Settings]:
    return [c for c in settings.connectors
            if isinstance(c, Hl7v2Settings) and c.enabled and c.listen is not None
            and (not only or c.name in only)]


def receiver_handler(receiver: Receiver) -> Handler:
    """Store work runs in a thread, so the loop keeps serving the other senders."""
    encoding = "utf-8" if receiver.config.encoding == "auto" else receiver.config.encoding

    async def handle(payload: bytes, peer: str) -> bytes | None:
        try:
            reply = await asyncio.to_thread(receiver.handle, payload, peer)
        except Exception as exc:  # not stored: no ACK, the sender resends
            log.error("hl7.not_stored", connector=receiver.name, error=type(exc).__name__)
            return None
        return reply.ack.encode(encoding, errors="replace")

    return handle


class Hl7Service:
    # How often the TLS listeners' state goes to the store (sync/runs/mllp_state.py), for `status`,
    # the status page and the main /metrics in any process.
    note_every = CHECK_EVERY_SECONDS

    def __init__(self, settings: Settings, store: Store, only: list[str] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.configs = listener_configs(settings, only)
        self.receivers: list[Receiver] = []
        self._listeners: list[MllpListener] = []
        self._runs: list[tuple[int, Receiver]] = []
        self._janitor: asyncio.Task[None] | None = None
        self._noting: asyncio.Task[None] | None = None

    async def start(self) -> list[Listening]:
        """Load each mapping (a bad one raises ValueError before anything listens), then bind."""
        run_id = new_run_id()
        for config in self.configs:
            # as a polled source's: its site's zone and region, its own timezone and
            # time convention (stored_times), the places' zones
            mapping = mapping_for(self.settings, config)
            self.receivers.append(Receiver(config, mapping, self.store, run_id,
                                           frozenset(self.settings.connector_names())))
        listening = []
        try:
            for receiver in self.receivers:
                assert receiver.config.listen is not None
                listener = MllpListener(receiver.name, receiver.config.listen, receiver_handler(receiver))
                host, port = await listener.start()
                self._listeners.append(listener)
                listening.append(Listening(receiver.name, host, port, receiver.config.listen.tls is not None))
        except BaseException:
            await self.stop()
            raise
        for receiver in self.receivers:
            row = await asyncio.to_thread(self.store.start_run, run_id, receiver.name)
            self._runs.append((row, receiver))
        self._janitor = asyncio.create_task(self._forget_old_ids())
        if self.tls():
            self._noting = asyncio.create_task(self._note_tls())
        return listening

    async def stop(self) -> None:
        if self._noting is not None:
            self._noting.cancel()
            with suppress(asyncio.CancelledError):
                await self._noting
            self._noting = None
            for name in self.tls():
                with suppress(Exception):  # bookkeeping: the rows end LIVE after the last note anyway
                    await asyncio.to_thread(forget_listener, self.store.engine, name)
        if self._janitor is not None:
            self._janitor.cancel()
            with suppress(asyncio.CancelledError):
                await self._janitor
            self._janitor = None
        for listener in self._listeners:
            await listener.close()
        self._listeners = []
        for row, receiver in self._runs:
            await asyncio.to_thread(self.store.finish_run, row, receiver.counts, None)
        self._runs = []

    def tls(self) -> dict[str, ListenerTls]:
        """The TLS state of each listening connector with ``tls:``."""
        return {listener.name: listener.tls for listener in self._listeners if listener.tls is not None}

    async def _note_tls(self) -> None:
        """Each minute, what only the running listeners know, into the store: handshakes failing,
        changed TLS files that do not load (sync/runs/mllp_state.py)."""
        while True:
            for name, tls in self.tls().items():
                try:
                    await asyncio.to_thread(note_listener, self.store.engine, name,
                                            ListenerState(tls.failing_since, tls.problem_since))
                except Exception as exc:  # the store away: the listener's log says it meanwhile
                    log.warning("hl7.tls_state_not_noted", connector=name, error=type(exc).__name__)
            await asyncio.sleep(self.note_every)

    async def _forget_old_ids(self) -> None:
        while True:
            for receiver in self.receivers:
                try:
                    forgotten = await asyncio.to_thread(receiver.forget_old_ids)
                except Exception as exc:  # housekeeping only: try again tomorrow
                    log.warning("hl7.forget_failed", connector=receiver.name, error=type(exc).__name__)
                else:
                    if forgotten:
                        log.info("hl7.forgot_control_ids", connector=receiver.name, count=forgotten)
            await asyncio.sleep(_FORGET_EVERY_SECONDS)


class MllpTlsCollector(Collector):
    """/metrics figures of the listeners of this process, read at scrape time: what only the
    running listener knows (its handshakes, its reloads, the certificate it serves). The
    files' own figures (clinicsync_mllp_certificate_*) come from sync/checks/stalls.py in any
    process; these come from `clinicsync hl7 listen --metrics-port`."""

    def __init__(self, tls: Callable[[], dict[str, ListenerTls]]) -> None:
        self.tls = tls

    def collect(self) -> Iterator[Any]:
        listeners = sorted(self.tls().items())
        for kind, name, text, read in _LISTENER_FIGURES:
            family = kind(name, text, labels=["connector"])
            for connector, tls in listeners:
                family.add_metric([connector], read(tls))
            yield family


_LISTENER_FIGURES: tuple[tuple[type[CounterMetricFamily] | type[GaugeMetricFamily], str, str,
                               Callable[[ListenerTls], float]], ...] = (
    (CounterMetricFamily, "clinicsync_mllp_tls_handshakes", "TLS handshakes the MLLP listener completed (senders, "
     "and TLS health checks that close right after)", lambda tls: tls.handshakes),
    (CounterMetricFamily, "clinicsync_mllp_tls_handshake_failures", "TLS handshakes the MLLP listener failed (an "
     "expired or untrusted certificate, a sender without a client certificate, a scan)",
     lambda tls: tls.handshake_failures),
    (CounterMetricFamily, "clinicsync_mllp_certificate_reloads", "changed TLS files loaded by the running listener",
     lambda tls: tls.reloads),
    (CounterMetricFamily, "clinicsync_mllp_certificate_reload_failures", "attempts to load changed TLS files that "
     "failed (the previous certificate kept serving)", lambda tls: tls.reload_failures),
    (GaugeMetricFamily, "clinicsync_mllp_certificate_reload_failing", "1 while the running listener cannot load its "
     "TLS files and serves the certificate it loaded before", lambda tls: int(tls.problem is not None)),
    (GaugeMetricFamily, "clinicsync_mllp_certificate_in_use_expiry_timestamp_seconds", "when the certificate the "
     "running listener serves expires (Unix time)", lambda tls: tls.not_after.timestamp()),
)


async def serve_mllp(settings: Settings, store: Store, only: list[str] | None = None,
                     on_ready: Callable[[list[Listening]], None] | None = None,
                     stop: asyncio.Event | None = None, metrics: tuple[str, int] | None = None,
                     on_metrics: Callable[[str, int], None] | None = None) -> None:
    """Listen until ``stop`` is set (or the task is cancelled); with ``metrics`` (host, port),
    serve the listeners' figures (MllpTlsCollector) at http://host:port/metrics meanwhile."""
    service = Hl7Service(settings, store, only)
    exporter = None
    try:
        listening = await service.start()
        if metrics is not None:
            registry = CollectorRegistry()
            registry.register(MllpTlsCollector(service.tls))
            exporter, _thread = start_http_server(metrics[1], metrics[0], registry=registry)
            if on_metrics is not None:
                on_metrics(metrics[0], exporter.server_port)
        if on_ready is not None:
            on_ready(listening)
        await (stop or asyncio.Event()).wait()
    finally:
        if exporter is not None:
            exporter.shutdown()
            exporter.server_close()
        await service.stop()
