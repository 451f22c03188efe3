"""A FHIR server that requires a practice header on every request (issue 57 obs 8, e.g.
`nx-practice-id`): the connector's `headers:` are sent on every request — searches, Bundle
next pages, reads of referenced resources, SMART discovery and token calls at the server's own
origin — with values from the environment that never reach a log; never to a separate
authorization server; and a header that would replace the connector's own is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import ValidationError

from clinicsync.connectors.fhir import FhirConnector
from clinicsync.connectors.fhir.settings import FhirSettings
from tests.connectors.fhir_fake import FakeFhir, pem, rsa_key
from tests.connectors.test_fhir_sync import fhir_connector, open_cli, seed

PRACTICE = "practice-4711-not-in-logs"


def test_every_request_carries_the_practice_header(fhir_server: FakeFhir, tmp_path: Path, write_settings: Any,
                                                   cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(fhir_server)
    # The server refuses, as the vendor's does, any request without the header.
    fhir_server.fail(lambda seen: seen.headers.get("nx-practice-id") != PRACTICE, 400, times=10**6)
    key_file = tmp_path / "key.pem"
    key_file.write_text(pem(rsa_key()))
    monkeypatch.setenv("PRACTICE_ID", PRACTICE)
    extra = "  headers: {nx-practice-id: '${PRACTICE_ID}', X-Tenant: north}"
    run = open_cli(cli, write_settings(connectors=fhir_connector(fhir_server, key_file, extra)))
    _, out, err = run("sync", "--once", "--json")
    report = json.loads(out)["connectors"]["ehr"]
    assert (report["error"], report["created"]) == (None, 10)
    seen = fhir_server.seen()
    assert {s.status for s in seen} <= {200, 201, 401}  # not one request was refused for its headers
    paths = {s.path for s in seen}
    assert {"/fhir/Appointment", "/fhir", "/auth/token", "/fhir/.well-known/smart-configuration"} <= paths
    assert all(s.headers.get("x-tenant") == "north" for s in seen)
    assert all(s.headers["accept"] for s in seen)
    assert PRACTICE not in out + err  # the value is never logged


@respx.mock
def test_a_token_server_elsewhere_never_gets_the_header() -> None:
    base, token_url = "https://ehr.example.org/fhir", "https://auth.example.org/oauth2/token"
    token = respx.post(token_url).mock(return_value=httpx.Response(
        200, json={"access_token": "tok", "token_type": "bearer", "expires_in": 300}))
    fhir = respx.get(f"{base}/metadata").mock(return_value=httpx.Response(
        200, json={"resourceType": "CapabilityStatement"}))
    settings = FhirSettings.model_validate({
        "name": "ehr", "base_url": base, "headers": {"nx-practice-id": PRACTICE},
        "auth": {"kind": "smart_backend", "client_id": "c", "kid": "k", "private_key": pem(rsa_key()),
                 "token_url": token_url}})
    connector = FhirConnector(settings)
    try:
        connector.client.get_json("metadata")
    finally:
        connector.close()
    assert fhir.calls[0].request.headers["nx-practice-id"] == PRACTICE
    assert "nx-practice-id" not in token.calls[0].request.headers
    assert PRACTICE not in repr(settings) and PRACTICE not in str(settings.model_dump())


@pytest.mark.parametrize(("headers", "says"), [
    ({"Authorization": "Bearer x"}, "headers: Authorization is set by the connector (auth: for credentials)"),
    ({"content-type": "text/plain"}, "headers: content-type is set by the connector"),
    ({"Accept": "application/json"}, "headers: Accept is set by the connector"),
    ({"bad header": "x"}, "headers: 'bad header' is not a header name"),
    ({"nx-practice-id": ""}, "headers: the value of nx-practice-id is empty or holds a line break"),
    ({"nx-practice-id": "a\r\nX-Evil: 1"}, "headers: the value of nx-practice-id is empty or holds a line break"),
])
def test_headers_that_would_replace_the_connectors_own_are_refused(headers: dict[str, str], says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        FhirSettings.model_validate({"name": "ehr", "base_url": "https://ehr.example.org/fhir", "headers": headers})
    assert says in str(caught.value)
