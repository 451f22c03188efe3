"""Authentication for FHIR servers, as httpx auth flows: none, basic, a static bearer
token, and SMART Backend Services (OAuth2 client credentials with a private_key_jwt
client assertion, https://hl7.org/fhir/smart-app-launch/backend-services.html).

The SMART flow runs inside httpx's auth flow, so the token request shares the
connector's pooled client, a token is reused until shortly before it expires, and a
401 from the FHIR server gets exactly one fresh token and one retry.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from clinicsync.connectors.base import FatalConnectorError
from clinicsync.connectors.fhir.errors import json_body, oauth_error, transient_error
from clinicsync.connectors.fhir.keys import PrivateKey, load_private_key

if TYPE_CHECKING:
    from clinicsync.connectors.fhir.settings import FhirAuthSettings

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300  # seconds; SMART allows at most five minutes
EXPIRY_MARGIN = 60  # renew a token this long before the server says it expires
DEFAULT_TOKEN_LIFETIME = 300  # when the token answer has no expires_in

def public_jwks(private_key: PrivateKey, algorithm: str, kid: str) -> dict[str, Any]:
    """The JWKS an EHR registers for this client: the public half only, with its kid."""
    public = private_key.public_key()
    jwk: dict[str, Any] = (RSAAlgorithm.to_jwk(public, as_dict=True) if isinstance(public, rsa.RSAPublicKey)
                           else ECAlgorithm.to_jwk(public, as_dict=True))
    jwk.update(kid=kid, alg=algorithm, use="sig", key_ops=["verify"])
    return {"keys": [jwk]}


class StaticBearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


class SmartBackendAuth(httpx.Auth):
    """SMART Backend Services: a signed assertion buys an access token, cached."""

    requires_response_body = True

    def __init__(self, connector: str, base_url: str, client_id: str, private_key: PrivateKey,
                 algorithm: str, kid: str, scope: str, token_url: str | None = None,
                 clock: Callable[[], float] = time.time, headers: Mapping[str, str] | None = None) -> None:
        self.connector = connector
        self.base_url = base_url
        self.client_id = client_id
        self.private_key = private_key
        self.algorithm = algorithm
        self.kid = kid
        self.scope = scope
        self.token_url = token_url
        self.clock = clock
        self.extra_headers = dict(headers or {})
        self._token: str | None = None
        self._expires_at = 0.0
        self.tokens_fetched = 0

    # -- the assertion ------------------------------------------------------------------
    def client_assertion(self, token_url: str) -> str:
        now = int(self.clock())
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": token_url,
                  "jti": uuid.uuid4().hex, "iat": now, "exp": now + ASSERTION_LIFETIME}
        return jwt.encode(claims, self.private_key, algorithm=self.algorithm,
                          headers={"kid": self.kid, "typ": "JWT"})

    # -- the httpx flow -----------------------------------------------------------------
    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None or self.clock() >= self._expires_at:
            yield from self._renew()
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            self._token = None  # revoked or expired early: one fresh token, one retry
            yield from self._renew()
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def _renew(self) -> Generator[httpx.Request, httpx.Response, None]:
        if self.token_url is None:
            self.token_url = yield from self._discover()
        token_url = self.token_url
        response = yield httpx.Request(
            "POST", token_url, headers=self._headers(token_url, {"Accept": "application/json"}),
            data={"grant_type": "client_credentials", "scope": self.scope,
                  "client_assertion_type": ASSERTION_TYPE,
                  "client_assertion": self.client_assertion(token_url)})
        problem = transient_error(response, "the token endpoint")
        if problem:
            raise problem
        body = json_body(response)
        if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
            detail = oauth_error(body) or f"HTTP {response.status_code}"
            raise FatalConnectorError(
                f"connector {self.connector}: the token endpoint refused the client ({detail}); check "
                "client_id, kid, the public key registered with the EHR, and the requested scope")
        lifetime = _lifetime(body.get("expires_in"))
        self._token = str(body["access_token"])
        self._expires_at = self.clock() + max(lifetime - EXPIRY_MARGIN, lifetime / 2)
        self.tokens_fetched += 1

    def _headers(self, url: str, own: dict[str, str]) -> dict[str, str]:
        """A token or discovery request's headers: the server's extra headers too when it goes to
        base_url's origin (the EHR itself), never to a separate authorization server."""
        same = _origin(url) == _origin(self.base_url)
        return {**self.extra_headers, **own} if same else own

    def _discover(self) -> Generator[httpx.Request, httpx.Response, str]:
        discovery = f"{self.base_url}/.well-known/smart-configuration"
        response = yield httpx.Request("GET", discovery,
                                       headers=self._headers(discovery, {"Accept": "application/json"}))
        problem = transient_error(response, "the SMART configuration")
        if problem:
            raise problem
        body = json_body(response)
        endpoint = body.get("token_endpoint") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(endpoint, str):
            raise FatalConnectorError(
                f"connector {self.connector}: no token_endpoint in {self.base_url}/.well-known/"
                f"smart-configuration (HTTP {response.status_code}); set auth.token_url")
        return endpoint


def _lifetime(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return DEFAULT_TOKEN_LIFETIME
    return seconds if seconds > 0 else DEFAULT_TOKEN_LIFETIME


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def build_auth(settings: FhirAuthSettings, connector: str, base_url: str,
               headers: Mapping[str, str] | None = None) -> httpx.Auth | None:
    if settings.kind == "basic":
        assert settings.username is not None and settings.password is not None
        return httpx.BasicAuth(settings.username, settings.password.get_secret_value())
    if settings.kind == "bearer":
        assert settings.token is not None
        return StaticBearerAuth(settings.token.get_secret_value())
    if settings.kind == "smart_backend":
        assert settings.client_id and settings.private_key and settings.kid
        key = load_private_key(settings.private_key.get_secret_value(), settings.algorithm)
        return SmartBackendAuth(connector, base_url, settings.client_id, key, settings.algorithm,
                                settings.kid, settings.scope, settings.token_url, headers=headers)
    return None
