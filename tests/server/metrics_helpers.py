"""Scraping /metrics of a test app and reading the figures back (prometheus-client's own parser)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


async def scrape(app: FastAPI) -> list[Sample]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    return [sample for family in text_string_to_metric_families(response.text) for sample in family.samples]


def values(samples: list[Sample], name: str, label: str | None = None) -> dict[str, float]:
    """{value of ``label`` (or ""): sample value} of the samples called ``name``."""
    return {(sample.labels[label] if label else ""): sample.value for sample in samples if sample.name == name}
