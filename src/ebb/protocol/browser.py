"""The browser as an attacker: Host allow-list, CORS, and JSON only as JSON from web pages.

A page on any site can make a visitor's browser send requests to ``http://127.0.0.1:8080``.
Three checks, as ASGI middleware outside everything else, keep that harmless:

- **Host allow-list** (when bound to loopback, or when hosts are listed): DNS rebinding points
  an attacker's name at 127.0.0.1 so that the page may read the answers; its requests still
  carry ``Host: attacker.example``, answered 421 Misdirected Request. 421 rather than 403: the
  request reached a server that does not serve that authority, which is not a matter of
  permission (403 stays API keys' answer, so logs and metrics tell the two apart).
- **CORS** is off unless origins are given (``--cors-origin``); then preflights are answered
  and answers carry ``Access-Control-Allow-Origin`` for those origins only.
- **Content types**: a page may send ``text/plain`` (or form) bodies without a preflight; a
  request with an ``Origin`` must say ``application/json`` (or ``application/octet-stream``
  for the binary extension, which needs a preflight anyway), else 415.

    app = apply_middleware(rest, browser_middleware(BrowserPolicy.of("127.0.0.1", (), ())))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from ebb.protocol.asgi import ASGIApp, Message, Middleware, Receive, Scope, Send

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
_BODY_TYPES = frozenset({b"application/json", b"application/octet-stream"})
_ALLOWED_METHODS = b"GET, HEAD, POST"
_EXPOSED = b"inference-header-content-length, retry-after"
_PREFLIGHT_MAX_AGE = b"600"
_REQUEST_HEADERS = (b"authorization, content-type, content-encoding, "
                    b"inference-header-content-length, ebb-timeout-ms")


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def host_name(value: str) -> str:
    """A Host header (or bind address) without its port, lower-case; IPv6 in brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[:value.find("]") + 1] if "]" in value else value
    if value.count(":") > 1:
        return f"[{value}]"  # a bare IPv6 bind address
    name, _, port = value.partition(":")
    return name if port.isdigit() or not port else value


@dataclass(frozen=True)
class BrowserPolicy:
    hosts: frozenset[str] | None
    """Host names answered (any port); None: any."""
    origins: frozenset[str]
    """Origins allowed by CORS; ``*`` for any; empty: CORS off."""

    @classmethod
    def of(cls, bind_host: str, allowed_hosts: Sequence[str], origins: Sequence[str]
           ) -> BrowserPolicy:
        """Hosts are checked when bound to loopback (that address and the loopback names) or
        when ``allowed_hosts`` lists some (those, added to the loopback ones)."""
        hosts: frozenset[str] | None = None
        if allowed_hosts or is_loopback(bind_host):
            hosts = _LOOPBACK_NAMES | {host_name(bind_host)} | {host_name(h) for h in
                                                                allowed_hosts}
        return cls(hosts, frozenset(origin.rstrip("/") for origin in origins))

    def host_allowed(self, host: bytes | None) -> bool:
        if self.hosts is None or host is None:
            return True  # no Host header: not a browser (browsers always send one)
        return host_name(host.decode("latin-1")) in self.hosts

    def origin_allowed(self, origin: bytes) -> bool:
        return "*" in self.origins or origin.decode("latin-1") in self.origins


def browser_middleware(policy: BrowserPolicy) -> Sequence[Middleware]:
    def wrap(app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            host = origin = content_type = preflight = None
            for key, value in scope["headers"]:
                if key == b"host":
                    host = value
                elif key == b"origin":
                    origin = value
                elif key == b"content-type":
                    content_type = value
                elif key == b"access-control-request-method":
                    preflight = value
            if not policy.host_allowed(host):
                shown = (host or b"").decode("latin-1")[:100]
                await _refuse(send, 421, f"this server does not answer for host {shown!r}")
                return
            if origin is None:
                await app(scope, receive, send)
                return
            await _from_page(app, policy, scope, receive, send, origin, content_type, preflight)

        return guarded

    return (wrap,)


async def _from_page(app: ASGIApp, policy: BrowserPolicy, scope: Scope, receive: Receive,
                     send: Send, origin: bytes, content_type: bytes | None,
                     preflight: bytes | None) -> None:
    allowed = policy.origin_allowed(origin)
    if scope["method"] == "OPTIONS" and preflight is not None and allowed:
        await _preflight(send, _cors_headers(policy, origin))
        return
    if scope["method"] == "POST" and _media_type(content_type) not in _BODY_TYPES:
        await _refuse(send, 415, "a request from a web page must be sent as application/json")
        return
    if not allowed:
        await app(scope, receive, send)
        return

    cors = _cors_headers(policy, origin)

    async def send_with_cors(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *cors]
        await send(message)

    await app(scope, receive, send_with_cors)


def _media_type(content_type: bytes | None) -> bytes:
    if content_type is None:
        return b""
    return content_type.split(b";", 1)[0].strip().lower()


def _cors_headers(policy: BrowserPolicy, origin: bytes) -> list[tuple[bytes, bytes]]:
    """An allowed origin is echoed only when it was listed (never raw client bytes)."""
    allow = b"*" if "*" in policy.origins else origin
    return [(b"access-control-allow-origin", allow), (b"vary", b"Origin"),
            (b"access-control-expose-headers", _EXPOSED)]


async def _preflight(send: Send, cors: list[tuple[bytes, bytes]]) -> None:
    headers = [*cors, (b"access-control-allow-methods", _ALLOWED_METHODS),
               (b"access-control-allow-headers", _REQUEST_HEADERS),
               (b"access-control-max-age", _PREFLIGHT_MAX_AGE), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _refuse(send: Send, status: int, message: str) -> None:
    body = orjson.dumps({"error": message})
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
