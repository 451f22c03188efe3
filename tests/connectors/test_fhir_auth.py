"""FHIR authentication (respx): the SMART Backend Services client assertion checked
with the test's own key, token caching, one refresh on 401, discovery, refusals;
basic and bearer; and the auth settings' validation."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError

from clinicsync.connectors.base import FatalConnectorError
from clinicsync.connectors.fhir import FhirConnector
from clinicsync.connectors.fhir.auth import SmartBackendAuth
from clinicsync.connectors.fhir.settings import FhirSettings
from tests.connectors.fhir_fake import ec_key, pem, rsa_key

BASE = "https://ehr.example.org/fhir"
TOKEN_URL = "https://auth.example.org/oauth2/token"
METADATA = {"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1"}


def smart(algorithm: str = "RS384", key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
          **auth: Any) -> FhirConnector:
    key = key or (rsa_key() if algorithm == "RS384" else ec_key())
    settings = {"kind": "smart_backend", "client_id": "clinicsync-prod", "kid": "key-2026",
                "private_key": pem(key), "algorithm": algorithm, "token_url": TOKEN_URL, **auth}
    return FhirConnector(FhirSettings.model_validate({"name": "ehr", "base_url": BASE, "auth": settings}))


def token_answer(token: str = "tok-1", expires_in: int = 300) -> httpx.Response:
    return httpx.Response(200, json={"access_token": token, "token_type": "bearer", "expires_in": expires_in})


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def auth_of(connector: FhirConnector) -> SmartBackendAuth:
    auth = connector.client.http.auth
    assert isinstance(auth, SmartBackendAuth)
    return auth


@pytest.mark.parametrize(("algorithm", "public"), [
    ("RS384", lambda: rsa_key().public_key()),
    ("ES384", lambda: ec_key().public_key()),
])
@respx.mock
def test_client_assertion_header_and_claims(algorithm: str, public: Any) -> None:
    token = respx.post(TOKEN_URL).mock(return_value=token_answer())
    fhir = respx.get(f"{BASE}/metadata").mock(return_value=httpx.Response(200, json=METADATA))
    smart(algorithm).client.get_json("metadata")

    sent = form(token.calls[0].request)
    assert sent["grant_type"] == "client_credentials"
    assert sent["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert sent["scope"] == ("system/Appointment.read system/Patient.read system/Practitioner.read "
                             "system/Location.read")
    assertion = sent["client_assertion"]
    assert jwt.get_unverified_header(assertion) == {"alg": algorithm, "kid": "key-2026", "typ": "JWT"}
    claims = jwt.decode(assertion, public(), algorithms=[algorithm], audience=TOKEN_URL)
    assert claims["iss"] == claims["sub"] == "clinicsync-prod"
    assert claims["exp"] - claims["iat"] == 300
    assert len(claims["jti"]) >= 16
    assert fhir.calls[0].request.headers["Authorization"] == "Bearer tok-1"
    assert "Authorization" not in token.calls[0].request.headers  # the assertion is the credential


@respx.mock
def test_a_token_is_reused_until_shortly_before_it_expires() -> None:
    token = respx.post(TOKEN_URL).mock(side_effect=[token_answer("tok-1", 300), token_answer("tok-2", 300)])
    fhir = respx.get(f"{BASE}/metadata").mock(return_value=httpx.Response(200, json=METADATA))
    connector = smart()
    now = [1_000_000.0]
    auth_of(connector).clock = lambda: now[0]
    for _ in range(3):
        connector.client.get_json("metadata")
    now[0] += 239  # 300 s token, renewed 60 s early
    connector.client.get_json("metadata")
    now[0] += 1
    connector.client.get_json("metadata")

    assert token.call_count == 2
    assert [c.request.headers["Authorization"] for c in fhir.calls] == ["Bearer tok-1"] * 4 + ["Bearer tok-2"]
    jtis = {jwt.decode(form(c.request)["client_assertion"], options={"verify_signature": False})["jti"]
            for c in token.calls}
    assert len(jtis) == 2  # a fresh jti per assertion


@respx.mock
def test_a_401_gets_one_fresh_token_and_one_retry() -> None:
    token = respx.post(TOKEN_URL).mock(side_effect=[token_answer("tok-1"), token_answer("tok-2")])
    fhir = respx.get(f"{BASE}/metadata").mock(side_effect=[
        httpx.Response(401), httpx.Response(200, json=METADATA)])
    body, _ = smart().client.get_json("metadata")
    assert body == METADATA and token.call_count == 2
    assert [c.request.headers["Authorization"] for c in fhir.calls] == ["Bearer tok-1", "Bearer tok-2"]


@respx.mock
def test_a_second_401_is_a_credentials_error() -> None:
    token = respx.post(TOKEN_URL).mock(side_effect=[token_answer("tok-1"), token_answer("tok-2")])
    respx.get(f"{BASE}/metadata").mock(return_value=httpx.Response(401))
    with pytest.raises(FatalConnectorError, match="HTTP 401: the server refused the credentials"):
        smart().client.get_json("metadata")
    assert token.call_count == 2  # one refresh, not a loop


@respx.mock
def test_the_token_endpoint_is_discovered_when_not_configured() -> None:
    discovery = respx.get(f"{BASE}/.well-known/smart-configuration").mock(
        return_value=httpx.Response(200, json={"token_endpoint": TOKEN_URL}))
    token = respx.post(TOKEN_URL).mock(return_value=token_answer())
    respx.get(f"{BASE}/metadata").mock(return_value=httpx.Response(200, json=METADATA))
    connector = smart(token_url=None)
    connector.client.get_json("metadata")
    connector.client.get_json("metadata")
    assert discovery.call_count == 1 and token.call_count == 1
    claims = jwt.decode(form(token.calls[0].request)["client_assertion"], options={"verify_signature": False})
    assert claims["aud"] == TOKEN_URL


@respx.mock
def test_a_refused_client_names_the_oauth_error() -> None:
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(
        400, json={"error": "invalid_client", "error_description": "unknown kid"}))
    metadata = respx.get(f"{BASE}/metadata").mock(return_value=httpx.Response(200, json=METADATA))
    with pytest.raises(FatalConnectorError) as caught:
        smart().client.get_json("metadata")
    assert "the token endpoint refused the client (invalid_client: unknown kid)" in str(caught.value)
    assert metadata.call_count == 0


@respx.mock
def test_a_token_endpoint_outage_is_retried(retry_sleeps: list[float]) -> None:
    token = respx.post(TOKEN_URL).mock(side_effect=[httpx.Response(503, headers={"Retry-After": "2"}),
                                                    token_answer()])
    respx.get(f"{BASE}/metadata").mock(return_value=httpx.Response(200, json=METADATA))
    smart().client.get_json("metadata")
    assert token.call_count == 2 and retry_sleeps == [2]


@respx.mock
def test_basic_and_bearer() -> None:
    route = respx.get(f"{BASE}/metadata").mock(return_value=httpx.Response(200, json=METADATA))
    basic = FhirSettings.model_validate({"name": "a", "base_url": BASE,
                                         "auth": {"kind": "basic", "username": "svc", "password": "pw"}})
    bearer = FhirSettings.model_validate({"name": "b", "base_url": BASE,
                                          "auth": {"kind": "bearer", "token": "static-token"}})
    FhirConnector(basic).client.get_json("metadata")
    FhirConnector(bearer).client.get_json("metadata")
    assert route.calls[0].request.headers["Authorization"] == "Basic " + base64.b64encode(b"svc:pw").decode()
    assert route.calls[1].request.headers["Authorization"] == "Bearer static-token"


# -- settings ---------------------------------------------------------------------------------
def settings_error(auth: dict[str, Any], **other: Any) -> str:
    """The messages as the CLI shows them (it prints each error's msg, never its input)."""
    with pytest.raises(ValidationError) as caught:
        FhirSettings.model_validate({"name": "ehr", "base_url": BASE, "auth": auth, **other})
    return "; ".join(error["msg"] for error in caught.value.errors())


@pytest.mark.parametrize(("auth", "message"), [
    ({"kind": "smart_backend", "client_id": "c"}, "auth kind smart_backend needs private_key, kid"),
    ({"kind": "basic", "username": "u"}, "auth kind basic needs password"),
    ({"kind": "bearer", "token": "t", "client_id": "c"}, "auth kind bearer does not use client_id"),
    ({"kind": "none", "token_url": "https://a.example/token"}, "auth kind none does not use token_url"),
    ({"kind": "smart_backend", "client_id": "c", "kid": "k", "private_key": "not a key"},
     "private_key cannot be read: it is not a PEM private key"),
    ({"kind": "smart_backend", "client_id": "c", "kid": "k", "private_key": pem(ec_key())},
     "private_key is not an RSA key, which algorithm RS384 needs"),
    ({"kind": "smart_backend", "client_id": "c", "kid": "k", "algorithm": "ES384", "private_key": pem(rsa_key())},
     "private_key is not an EC P-384 key"),
    ({"kind": "oauth"}, "Input should be 'none', 'basic', 'bearer' or 'smart_backend'"),
])
def test_auth_settings_name_the_problem(auth: dict[str, Any], message: str) -> None:
    error = settings_error(auth)
    assert message in error
    for key in (rsa_key(), ec_key()):  # a key is never echoed
        assert pem(key).splitlines()[2] not in error


def test_other_settings_name_the_problem() -> None:
    assert "_count, date are set by the connector" in settings_error({}, search={"_count": "5", "date": "x"})
    assert "base_url must be an http(s) URL" in settings_error({}, base_url="ehr.example.org/fhir")
    assert "unknown IANA time zone" in settings_error({}, timezone="Mars/Olympus")
    assert "bad duration" in settings_error({}, window={"back": "a week"})


def test_a_key_from_a_file_or_from_an_env_value_with_escaped_newlines(tmp_path: Path) -> None:
    key_file = tmp_path / "fhir-key.pem"
    key_file.write_text(pem(rsa_key()))
    from_file = FhirSettings.model_validate(
        {"name": "ehr", "base_url": BASE, "auth": {"kind": "smart_backend", "client_id": "c", "kid": "k",
                                                   "private_key_file": str(key_file)}})
    assert from_file.auth.private_key is not None
    assert "PRIVATE KEY" not in repr(from_file)  # masked when printed
    escaped = pem(ec_key()).replace("\n", "\\n")  # how a key often arrives through an env variable
    connector = FhirConnector(FhirSettings.model_validate(
        {"name": "ehr", "base_url": BASE, "auth": {"kind": "smart_backend", "client_id": "c", "kid": "k",
                                                   "algorithm": "ES384", "private_key": escaped}}))
    assert isinstance(auth_of(connector).private_key, ec.EllipticCurvePrivateKey)


def test_a_bad_fhir_setting_exits_2_naming_the_key(write_settings: Any, cli: Any) -> None:
    config = write_settings(connectors="""
        - name: ehr
          kind: fhir
          base_url: https://ehr.example.org/fhir
          auth: {kind: smart_backend, client_id: clinicsync}
        """)
    _, _, err = cli(config)("sync", "--once", expect=2)
    assert "connectors[0].auth" in err and "needs private_key, kid" in err


@pytest.mark.parametrize("algorithm", ["RS384", "ES384"])
def test_the_jwks_command_prints_the_public_key_that_verifies_our_assertions(
        algorithm: str, tmp_path: Path, write_settings: Any, cli: Any) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_text(pem(rsa_key() if algorithm == "RS384" else ec_key()))
    config = write_settings(connectors=f"""
        - name: ehr
          kind: fhir
          base_url: {BASE}
          auth: {{kind: smart_backend, client_id: c1, kid: k-2026, algorithm: {algorithm},
                  private_key_file: {key_file}}}
        """)
    _, out, _ = cli(config)("fhir", "jwks")
    [jwk] = json.loads(out)["keys"]
    assert (jwk["kid"], jwk["alg"], jwk["use"]) == ("k-2026", algorithm, "sig")
    assert "d" not in jwk  # the public half only
    connector = smart(algorithm)
    assertion = auth_of(connector).client_assertion(TOKEN_URL)
    assert jwt.decode(assertion, jwt.PyJWK(jwk).key, algorithms=[algorithm], audience=TOKEN_URL)["iss"] == \
        "clinicsync-prod"


def test_the_jwks_command_needs_a_smart_connector(write_settings: Any, cli: Any) -> None:
    config = write_settings(connectors=f"""
        - name: ehr
          kind: fhir
          base_url: {BASE}
        """)
    _, _, err = cli(config)("fhir", "jwks", expect=2)
    assert "no single fhir connector with auth kind smart_backend: none" in err
