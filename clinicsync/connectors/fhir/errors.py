"""How the FHIR connector classifies what a server answered: a passing fault that is
worth retrying, or a refusal that names the server's own diagnostics."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from clinicsync.common.retry_after import retry_after
from clinicsync.connectors.base import FatalConnectorError
from clinicsync.connectors.fhir.shape import parse_json

_MAX_DIAGNOSTICS = 400
_UTF8 = ("utf-8", "utf8")
_REDIRECT = "the server redirects elsewhere (check base_url: https rather than http, the exact path)"
_HINTS = {
    301: _REDIRECT, 302: _REDIRECT, 303: _REDIRECT, 307: _REDIRECT, 308: _REDIRECT,
    401: "the server refused the credentials (check auth: client_id, kid, key, token)",
    403: "the client is not allowed to do this (check the granted scopes)",
    404: "not found (check base_url and the resource type)",
}


class TransientHttpError(Exception):
    """429, 5xx, a timeout or a dropped connection: retried with backoff."""

    def __init__(self, what: str, retry_after: float | None = None) -> None:
        self.what = what
        self.retry_after = retry_after
        super().__init__(what)


class FhirStatusError(FatalConnectorError):
    """An answer that is neither success nor a passing fault (3xx, 4xx); carries the status
    so callers can handle 404/410/412 themselves."""

    def __init__(self, connector: str, method: str, what: str, status: int, diagnostics: str | None) -> None:
        self.status = status
        self.diagnostics = diagnostics
        detail = diagnostics or _HINTS.get(status, "")
        super().__init__(f"connector {connector}: {method} {what} answered HTTP {status}"
                         + (f": {detail}" if detail else ""))


def json_body(response: httpx.Response) -> Any:
    """The parsed JSON body, or None when there is none.

    orjson first: a search page is hundreds of kilobytes and the standard library's parser
    took a fifth of a poll. A declared charset other than UTF-8, and what orjson refuses (NaN,
    integers past 64 bits, lone surrogates), get the standard-library parse of shape.parse_json,
    so the result is unchanged."""
    if (response.charset_encoding or "utf-8").lower() in _UTF8:
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            pass
    try:
        return parse_json(response.content)
    except ValueError:  # JSONDecodeError, or bytes in no Unicode encoding
        return None


def outcome_diagnostics(body: Any) -> str | None:
    """The issues of an OperationOutcome as one line (severity: diagnostics or details.text)."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return None
    parts = []
    for issue in body.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or issue.get("code")
        if text:
            parts.append(f"{issue.get('severity', 'error')}: {text}")
    joined = "; ".join(parts)
    return (joined[:_MAX_DIAGNOSTICS] + "…" if len(joined) > _MAX_DIAGNOSTICS else joined) or None


def oauth_error(body: Any) -> str | None:
    """An OAuth2 error answer (RFC 6749 §5.2) as one line."""
    if not isinstance(body, dict) or "error" not in body:
        return None
    text = str(body["error"])
    if body.get("error_description"):
        text += f": {body['error_description']}"
    return text[:_MAX_DIAGNOSTICS]


def transient_error(response: httpx.Response, what: str) -> TransientHttpError | None:
    """429 and every 5xx are passing faults; anything else is not."""
    if response.status_code == 429 or response.status_code >= 500:
        return TransientHttpError(f"{what} answered HTTP {response.status_code}",
                                  retry_after(response.headers.get("Retry-After")))
    return None
