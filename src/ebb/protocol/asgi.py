"""The ASGI types the REST app speaks, and the seam to wrap it in middleware.

Cross-cutting concerns (TLS client checks, API keys, rate limits) wrap the REST app instead of
living in it. A middleware takes an app and returns an app::

    def require_key(app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None: ...
        return guarded

    app = apply_middleware(RestApp(...), [require_key, rate_limit])  # require_key outermost
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

# Mutable mappings, as uvicorn, httpx and Starlette type them, so apps and middleware interchange.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Middleware = Callable[[ASGIApp], ASGIApp]


def apply_middleware(app: ASGIApp, middleware: Sequence[Middleware]) -> ASGIApp:
    """``app`` wrapped in each middleware; the first in the list is the outermost (sees a
    request first and the response last)."""
    for wrap in reversed(middleware):
        app = wrap(app)
    return app
