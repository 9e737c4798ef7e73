"""The access log (``--access-log``): one line per request, REST and gRPC alike.

Outermost, so that refusals by the browser guard or the API-key gate are logged too. Each line
carries method, path, model, status and latency; with ``--log-format json`` they are fields::

    INFO ebb.access: POST /v2/models/double/infer 200 1.4 ms (model double, rest, 127.0.0.1)
    {"logger": "ebb.access", "method": "POST", "path": "/v2/models/double/infer",
     "model": "double", "status": 200, "latency_ms": 1.4, "protocol": "rest", ...}

gRPC statuses are logged by name (``OK``, ``NOT_FOUND``) with the method's full path.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ebb.protocol.asgi import ASGIApp, Middleware, Receive, Scope, Send

log = logging.getLogger("ebb.access")


def model_of_path(path: str) -> str | None:
    """The model a REST path is about: ``/v2/models/{m}/...`` or ``/v1/models/{m}[:predict]``."""
    for prefix in ("/v2/models/", "/v1/models/"):
        if path.startswith(prefix):
            name = path[len(prefix):].split("/", 1)[0].split(":", 1)[0]
            return name or None
    return None


def log_access(protocol: str, method: str, path: str, model: str | None, status: int | str,
               latency_s: float, client: str | None) -> None:
    latency_ms = round(latency_s * 1000, 3)
    about = ", ".join(part for part in (f"model {model}" if model else "", protocol,
                                        client or "") if part)
    log.info("%s %s %s %.1f ms (%s)", method, path, status, latency_ms, about,
             extra={"fields": {"method": method, "path": path, "model": model,
                               "status": status, "latency_ms": latency_ms,
                               "protocol": protocol, "client": client}})


def access_middleware(enabled: bool) -> list[Middleware]:
    """``[middleware]`` logging every HTTP request when enabled, else ``[]``."""
    return [_AccessLog] if enabled else []


class _AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 0

        async def sending(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, sending)
        finally:
            client = scope.get("client")
            log_access("rest", scope["method"], scope["path"], model_of_path(scope["path"]),
                       status or 500, time.perf_counter() - began,
                       client[0] if client else None)


def access_interceptors(enabled: bool) -> list[Any]:
    """``[interceptor]`` logging every gRPC call when enabled, else ``[]``."""
    if not enabled:
        return []
    import grpc

    class AccessLogInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
        async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                    details: Any) -> Any:
            handler = await continuation(details)
            if handler is None or handler.unary_unary is None:
                return handler
            return grpc.unary_unary_rpc_method_handler(
                _timed(handler.unary_unary, details.method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)

    return [AccessLogInterceptor()]


def _timed(behaviour: Callable[..., Any], method: str) -> Callable[..., Awaitable[Any]]:
    async def call(request: Any, context: Any) -> Any:
        began = time.perf_counter()
        failed = False
        try:
            answer = behaviour(request, context)
            return await answer if inspect.isawaitable(answer) else answer
        except BaseException:
            failed = True
            raise
        finally:
            code = context.code()
            status = code.name if code is not None else ("UNKNOWN" if failed else "OK")
            model = getattr(request, "model_name", None) or getattr(request, "name", None)
            peer = context.peer() or ""
            log_access("grpc", "POST", method, model or None, status,
                       time.perf_counter() - began, peer.partition(":")[2] or None)
    return call
