"""The dashboard's HTTP routes: the page, its two static assets and its JSON feed.

Each route is an async function of the ASGI scope returning (status, content type, body), the
shape the REST app mounts as an extra GET route. The query string is parsed with the standard
library: ``/dashboard/data?model=NAME`` picks a model (the first one when absent or unknown).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

import orjson

from ebb.autoscale.controller import DecisionRecord
from ebb.dashboard.feed import STATIC_ASSETS, DashboardFeed, DecisionView, page, static_asset

Route = Callable[[Mapping[str, Any]], Awaitable[tuple[int, bytes, bytes]]]
Decisions = Callable[[str], Sequence[DecisionRecord]]
"""A model's recent scaling decisions (empty without autoscaling)."""


def dashboard_routes(feeds: Mapping[str, DashboardFeed], decisions: Decisions,
                     policy: str | None, slo_ms: float) -> dict[str, Route]:
    """The routes to mount; `policy` is None when the server does not autoscale."""

    async def html(scope: Mapping[str, Any]) -> tuple[int, bytes, bytes]:
        return 200, b"text/html; charset=utf-8", page()

    async def asset(scope: Mapping[str, Any]) -> tuple[int, bytes, bytes]:
        found = static_asset(str(scope["path"]).rsplit("/", 1)[-1])
        if found is None:
            return 404, b"application/json", b'{"error": "no such asset"}'
        return 200, found[1], found[0]

    async def data(scope: Mapping[str, Any]) -> tuple[int, bytes, bytes]:
        query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
        wanted = query.get("model", [""])[0]
        if not feeds:  # --load-on-demand before a first request, or every model unloaded
            return 503, b"application/json", orjson.dumps(
                {"error": "no model is loaded yet; the dashboard shows models once they load"})
        name = wanted if wanted in feeds else next(iter(feeds))
        views = [DecisionView(r.at, r.policy, r.current, r.desired, r.reason)
                 for r in decisions(name)]
        body = feeds[name].data(policy, slo_ms, views)
        return 200, b"application/json", orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)

    return {"/dashboard": html, "/dashboard/data": data,
            **{f"/dashboard/static/{name}": asset for name in STATIC_ASSETS}}


def redirect_root(app: Any) -> Any:
    """Middleware: ``GET /`` answers 307 to ``/dashboard``, the page a person opening the
    server's address in a browser wants (clients of the protocol never ask for ``/``)."""

    async def redirecting(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] in ("GET",
                                                                                    "HEAD"):
            await send({"type": "http.response.start", "status": 307,
                        "headers": [(b"location", b"/dashboard"), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    return redirecting
