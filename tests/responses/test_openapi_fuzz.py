"""schemathesis against the published OpenAPI schema: no generated request gets a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from sync.server.app import create_app
from sync.settings import load_settings
from sync.store import Store

UI_TOKEN = "Zq8v-Nw3rT5yLp0aXk7bMd2eHs9u"


@pytest.fixture
def api_schema(tmp_path: Path, store: Store, store_url: str) -> Any:
    path = tmp_path / "settings.yaml"
    path.write_text(f'store:\n  url: "{store_url}"\nserver:\n  public_url: https://clinic.example.org\n'
                    f"  secret_key: fuzz-secret\nui:\n  token: {UI_TOKEN}\n")
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(load_settings(path), store),
                                          headers={"Authorization": f"Bearer {UI_TOKEN}"})


def test_no_server_errors(api_schema: Any) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {o.path for o in operations} >= {"/webhooks/twilio/inbound", "/webhooks/sendgrid/events", "/r/{token}"}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_500(case: Any) -> None:
            response = case.call()
            case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])

        no_500()
