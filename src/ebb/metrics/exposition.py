"""Registry construction and the ``/metrics`` rendering, so no other layer imports the client."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder


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
