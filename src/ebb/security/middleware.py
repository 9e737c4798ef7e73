"""The gate as ASGI middleware for the REST app: decide the action from method and path, read
``Authorization``, answer 401/403/429 itself or pass the request on untouched.

    app = apply_middleware(RestApp(...), [gate_middleware(gate)])

401 carries ``WWW-Authenticate: Bearer realm="ebb"``; 429 carries ``Retry-After`` (whole
seconds, rounded up). Bodies are ``{"error": "..."}``; the header's value is never echoed.
"""

from __future__ import annotations

import math

import orjson

from ebb.protocol.asgi import ASGIApp, Middleware, Receive, Scope, Send
from ebb.security.gate import HTTP_STATUS, RATE_LIMITED, UNAUTHENTICATED, Denial, Gate
from ebb.security.policy import Action, action_for_http, is_inference_http

_MALFORMED = "the Authorization header must be 'Bearer <key>'"


def gate_middleware(gate: Gate) -> Middleware:
    """Wrap an app so every HTTP request passes `gate` first."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            method, path = scope["method"], scope["path"]
            action, model = action_for_http(method, path)
            if action is Action.OPEN:
                await app(scope, receive, send)
                return
            client = scope.get("client")
            authorization = _authorization(scope)
            logged_as = _logged_as(method, path)
            denial: Denial | None
            if authorization is None and gate.ring is not None:
                denial = Denial(UNAUTHENTICATED, _MALFORMED)
                gate.record(denial, "rest")
                if logged_as is not None:
                    gate.refused(denial, logged_as, model, None)
            else:
                denial = await gate.check(authorization or None, action, model,
                                          client[0] if client else "", "rest", logged_as)
            if denial is None:
                await app(scope, receive, send)
            else:
                await _refuse(send, denial)

        return guarded

    return wrap


def _logged_as(method: str, path: str) -> str | None:
    """The protocol a refused inference is logged under (as the dispatcher would log it had
    it been answered); None for a request that is not an inference."""
    if not is_inference_http(method, path):
        return None
    return "rest_v1" if path.startswith("/v1/") else "rest"


def _authorization(scope: Scope) -> str | None:
    """The header's value ("" when absent); None when it appears twice or is not ASCII."""
    found: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if found is not None:
                return None
            found = value
    if found is None:
        return ""
    try:
        return found.decode("ascii")
    except UnicodeDecodeError:
        return None


async def _refuse(send: Send, denial: Denial) -> None:
    body = orjson.dumps({"error": denial.message})
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    if denial.reason == UNAUTHENTICATED:
        headers.append((b"www-authenticate", b'Bearer realm="ebb"'))
    elif denial.reason == RATE_LIMITED:
        headers.append((b"retry-after", str(max(1, math.ceil(denial.retry_after_s))).encode()))
    await send({"type": "http.response.start", "status": HTTP_STATUS[denial.reason],
                "headers": headers})
    await send({"type": "http.response.body", "body": body})
