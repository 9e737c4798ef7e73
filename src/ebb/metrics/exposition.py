"""Registry construction and the ``/metrics`` rendering, so no other layer imports the client."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.parser import text_string_to_metric_families

Registry = CollectorRegistry
"""The registry type, named here so that other layers never import the client."""


def new_registry() -> CollectorRegistry:
    """A fresh registry with process and platform metrics (never the global default)."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def render(registry: CollectorRegistry, accept: str) -> tuple[bytes, str]:
    """The exposition body and content type; OpenMetrics when the Accept header asks for it."""
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


def parse_samples(text: str) -> Iterator[tuple[str, dict[str, str], float]]:
    """(sample name, labels, value) for every sample of a Prometheus text exposition."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            yield sample.name, sample.labels, sample.value
