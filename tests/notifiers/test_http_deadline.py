"""The httpx transport of the FHIR and callback clients (clinicsync/common/http_deadline.py) and
the Google Calendar client's httplib2 (httplib2_deadline.py): a
server that sends its answer one byte every 0.5 s never trips httpx's per-read timeout (5 s
here); the overall deadline (1 s) ends the request with a timeout the clients already retry."""

from __future__ import annotations

import time

import httpx
import pytest

from clinicsync.common.http_deadline import DeadlineTransport
from clinicsync.common.httplib2_deadline import DeadlineHttp
from clinicsync.connectors.fhir.client import FhirClient
from tests.notifiers.trickle import trickling


def test_an_answer_that_trickles_ends_at_the_overall_deadline() -> None:
    with trickling("http", interval=0.5) as server, httpx.Client(
            timeout=5, transport=DeadlineTransport(1.0)) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout, match="overall deadline of 1 s"):
            client.post(f"http://127.0.0.1:{server.port}/Appointment", json={"resourceType": "Appointment"})
        elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 3.0, elapsed


def test_an_answer_in_time_comes_back_whole() -> None:
    with trickling("http", interval=0.0) as server, httpx.Client(timeout=5, transport=DeadlineTransport(5)) as client:
        for _ in range(2):
            answer = client.post(f"http://127.0.0.1:{server.port}/x", content=b"{}")
            assert answer.status_code == 201 and answer.json()["status"] == "queued"


def test_the_fhir_client_sends_through_the_deadline_transport() -> None:
    client = FhirClient("ehr", "https://ehr.example.org/fhir", timeout=7)
    try:
        transport = client.http._transport
        assert isinstance(transport, DeadlineTransport) and transport.deadline == 28  # 4 x the per-read timeout
    finally:
        client.close()


def test_the_google_clients_httplib2_ends_a_trickling_answer_at_the_overall_deadline() -> None:
    with trickling("http", interval=0.5) as server:
        http = DeadlineHttp(1.0, timeout=5)
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="overall deadline of 1 s"):
            http.request(f"http://127.0.0.1:{server.port}/calendar/v3/calendars/x/events", "POST", body="{}")
        assert 1.0 <= time.monotonic() - started < 3.0
    with trickling("http", interval=0.0) as server:
        answer, content = DeadlineHttp(5.0, timeout=5).request(f"http://127.0.0.1:{server.port}/x", "POST", body="{}")
        assert answer.status == 201 and b"queued" in content
