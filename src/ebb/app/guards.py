"""Settings -> the request guards the app factory wires: wire limits for uvicorn and their gRPC
counterparts (channel options), the browser middleware, and the memory budget REST and gRPC share.

    budget = request_budget(settings)
    http = HttpServer(apply_middleware(rest, [*browser_guard(settings), *auth]), tls,
                      wire_limits(settings))
    grpc = create_server(..., options=grpc_options(settings))
"""

from __future__ import annotations

from collections.abc import Sequence

from ebb.app.wire import WireLimits
from ebb.config import ServeSettings
from ebb.protocol.asgi import Middleware
from ebb.protocol.browser import BrowserPolicy, browser_middleware
from ebb.protocol.budget import MemoryBudget

_MIB = 1024 * 1024
GRPC_STREAMS_PER_CONNECTION = 1024
"""HTTP/2 streams one gRPC connection may hold open: past it a client queues the call itself or
gets REFUSED_STREAM (UNAVAILABLE, never processed, safe to retry), so one connection cannot
pile up unbounded calls in a gateway that is behind."""
GRPC_KEEPALIVE_S = 60
GRPC_KEEPALIVE_TIMEOUT_S = 20


def wire_limits(settings: ServeSettings) -> WireLimits:
    return WireLimits(max_head_bytes=int(settings.max_header_kb * 1024),
                      header_timeout_s=settings.header_timeout_s,
                      body_timeout_s=settings.body_timeout_s,
                      keep_alive_s=settings.keep_alive_s,
                      max_connections=settings.max_connections)


def grpc_options(settings: ServeSettings) -> tuple[tuple[str, int], ...]:
    """grpc core's own limits, from the settings that bound HTTP: ``--max-connections`` (more are
    closed at accept), ``--header-timeout-s`` for the HTTP/2 preface and SETTINGS (a silent
    connection is cut), ``--keep-alive-s`` before an idle connection gets a graceful GOAWAY,
    ``--max-header-kb`` for metadata (RESOURCE_EXHAUSTED). Pings find peers that vanished; a
    client that pings too often is sent away (grpc's ping strikes)."""
    return (
        ("grpc.max_allowed_incoming_connections", settings.max_connections),
        ("grpc.max_concurrent_streams", GRPC_STREAMS_PER_CONNECTION),
        ("grpc.server_handshake_timeout_ms", _ms(settings.header_timeout_s)),
        ("grpc.max_connection_idle_ms", _ms(settings.keep_alive_s)),
        ("grpc.max_metadata_size", int(settings.max_header_kb * 1024)),
        ("grpc.keepalive_time_ms", _ms(GRPC_KEEPALIVE_S)),
        ("grpc.keepalive_timeout_ms", _ms(GRPC_KEEPALIVE_TIMEOUT_S)),
        ("grpc.http2.max_ping_strikes", 2),
    )


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def browser_guard(settings: ServeSettings) -> Sequence[Middleware]:
    """Outermost middleware: before API keys, so that preflights need none."""
    return browser_middleware(browser_policy(settings))


def browser_policy(settings: ServeSettings) -> BrowserPolicy:
    return BrowserPolicy.of(settings.host, settings.allowed_host, settings.cors_origin)


def request_budget(settings: ServeSettings) -> MemoryBudget:
    return MemoryBudget(int(settings.max_inflight_request_mb * _MIB))
