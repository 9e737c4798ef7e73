"""Settings -> the request guards the app factory wires: wire limits for uvicorn, the browser
middleware, and the memory budget REST and gRPC share.

    budget = request_budget(settings)
    http = HttpServer(apply_middleware(rest, [*browser_guard(settings), *auth]), tls,
                      wire_limits(settings))
"""

from __future__ import annotations

from collections.abc import Sequence

from ebb.app.wire import WireLimits
from ebb.config import ServeSettings
from ebb.protocol.asgi import Middleware
from ebb.protocol.browser import BrowserPolicy, browser_middleware
from ebb.protocol.budget import MemoryBudget

_MIB = 1024 * 1024


def wire_limits(settings: ServeSettings) -> WireLimits:
    return WireLimits(max_head_bytes=int(settings.max_header_kb * 1024),
                      header_timeout_s=settings.header_timeout_s,
                      body_timeout_s=settings.body_timeout_s,
                      keep_alive_s=settings.keep_alive_s,
                      max_connections=settings.max_connections)


def browser_guard(settings: ServeSettings) -> Sequence[Middleware]:
    """Outermost middleware: before API keys, so that preflights need none."""
    return browser_middleware(BrowserPolicy.of(settings.host, settings.allowed_host,
                                               settings.cors_origin))


def request_budget(settings: ServeSettings) -> MemoryBudget:
    return MemoryBudget(int(settings.max_inflight_request_mb * _MIB))
