"""The server's own GET routes beside the protocol: ``/metrics`` and ``/openapi.json``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ebb.metrics.exposition import Registry, render
from ebb.metrics.otlp import OtlpExporter

Route = Callable[[Mapping[str, Any]], Awaitable[tuple[int, bytes, bytes]]]


def metrics_route(registry: Registry) -> Route:
    """Prometheus text, or OpenMetrics when the scraper's ``Accept`` header asks for it."""

    async def metrics(scope: Mapping[str, Any]) -> tuple[int, bytes, bytes]:
        accept = ""
        for key, value in scope["headers"]:
            if key == b"accept":
                accept = value.decode("latin-1")
        body, content_type = render(registry, accept)
        return 200, content_type.encode(), body

    return metrics


def static_route(body: bytes, content_type: bytes = b"application/json") -> Route:
    async def static(scope: Mapping[str, Any]) -> tuple[int, bytes, bytes]:
        return 200, content_type, body

    return static


async def push_otlp(exporter: OtlpExporter, interval_s: float, stopping: asyncio.Event) -> None:
    """Push every `interval_s` (off the event loop: the POST blocks) until `stopping`."""
    loop = asyncio.get_running_loop()
    try:
        while not stopping.is_set():
            await loop.run_in_executor(None, exporter.push)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), exporter.retry_delay(interval_s))
    finally:
        exporter.close()
