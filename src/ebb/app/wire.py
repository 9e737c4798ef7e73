"""Uvicorn's httptools protocol with the limits it lacks: head size, read timeouts, connections.

uvicorn bounds none of these: httptools accumulates a header by concatenation (one 100 MB header
stalled every client for ~30 s), a connection that trickles its head or body is kept forever
(slowloris), and any number of connections is served. ``GuardedProtocol`` counts the bytes of a
request head as they arrive and answers 431 past ``max_head_bytes``; gives the head
``header_timeout_s`` from its first byte (from the accept for a new connection) and the body
``body_timeout_s`` after the head, answering 408; and answers 503 + ``Retry-After`` to requests
on connections beyond ``max_connections``. Every refusal closes its connection.

Deadlines are plain timestamps checked by ``sweep`` (called twice a second by ``HttpServer``),
so the request path pays two clock reads and no timers. That includes the idle keep-alive of
``keep_alive_s`` (which should outlast balancers and client pools): uvicorn armed a timer for
it after every answer and cancelled it at the next request, per request on a busy connection.
uvicorn's ASGI scope is built only for requests the ASGI app answers (not for fast calls).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ebb.app.fast_infer import FastCall, FastInfer
from ebb.protocol.asgi import Receive, Scope, Send
from ebb.protocol.errorlog import ClientErrorLog

log = logging.getLogger("ebb.http")

_NEVER = math.inf


@dataclass(frozen=True)
class WireLimits:
    max_head_bytes: int = 64 * 1024
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    keep_alive_s: float = 75.0
    max_connections: int = 10_000


class Wire:
    """What every connection of one server shares: limits, the client-error log, whether the
    server is closing (answers then carry ``Connection: close``), and the fast infer path
    (``ebb.app.fast_infer``; None: every request goes through the ASGI app)."""

    def __init__(self, limits: WireLimits, client_errors: ClientErrorLog,
                 fast: FastInfer | None = None) -> None:
        self.limits = limits
        self.client_errors = client_errors
        self.closing = False
        self.fast = fast


def protocol_class(wire: Wire) -> type[HttpToolsProtocol]:
    """A ``GuardedProtocol`` bound to ``wire`` (uvicorn builds protocols from a class)."""
    return type("GuardedHttpProtocol", (GuardedProtocol,), {"wire": wire})


def sweep(connections: Iterable[Any], now: float) -> int:
    """Cut off connections whose head or body is overdue; returns how many."""
    overdue = [conn for conn in connections
               if isinstance(conn, GuardedProtocol) and conn.deadline < now]
    for conn in overdue:
        conn.time_out()
    return len(overdue)


class GuardedProtocol(HttpToolsProtocol):
    wire: Wire

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.reading_head = True
        self.head_bytes = 0
        self.idle = False
        """Between an answer and the next request: ``deadline`` is then the keep-alive's."""
        self.deadline = self.loop.time() + self.wire.limits.header_timeout_s
        self.over_limit = len(self.connections) > self.wire.limits.max_connections

    def data_received(self, data: bytes) -> None:
        if self.reading_head:
            self.head_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self.wire.client_errors.note("malformed HTTP", str(error))
            self._refuse(400, "invalid HTTP request")
            return
        except httptools.HttpParserUpgrade:
            self.wire.client_errors.note("HTTP upgrade", "upgrades are not supported; "
                                         "answered over HTTP/1.1")
        if self.reading_head and self.head_bytes > self.wire.limits.max_head_bytes:
            self._refuse(431, f"request head over {self.wire.limits.max_head_bytes} bytes")

    def on_message_begin(self) -> None:
        # uvicorn builds the ASGI scope here; it is built in on_headers_complete instead, and
        # only for a request the ASGI app answers (``_begin_scope``)
        self.url = b""
        self.expect_100_continue = False
        self.headers = []
        if self.deadline == _NEVER or self.idle:
            self.idle = False
            self.deadline = self.loop.time() + self.wire.limits.header_timeout_s

    def _begin_scope(self) -> None:
        """uvicorn's scope for the request whose head was just read."""
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        super().on_message_begin()
        self.url, self.headers, self.expect_100_continue = url, headers, expect
        self.scope["headers"] = headers

    def on_response_complete(self) -> None:
        """uvicorn's, with the keep-alive deadline left to ``sweep`` rather than a timer armed
        for every answer and cancelled by the next request."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        elif self.deadline == _NEVER:
            self.idle = True
            self.deadline = self.loop.time() + self.wire.limits.keep_alive_s

    def on_headers_complete(self) -> None:
        limits = self.wire.limits
        self.reading_head = False
        refusal = None
        if self.head_bytes > limits.max_head_bytes and self._head_size() > limits.max_head_bytes:
            refusal = _Refusal(431, f"request head over {limits.max_head_bytes} bytes")
            self.wire.client_errors.note("head too large", refusal.message)
        elif self.over_limit:
            refusal = _Refusal(503, f"more than {limits.max_connections} connections are open; "
                               "retry shortly")
            self.wire.client_errors.note("too many connections", refusal.message)
        self.head_bytes = 0
        self.deadline = self.loop.time() + limits.body_timeout_s
        if refusal is None:
            if not self._take_fast():
                self._begin_scope()
                super().on_headers_complete()
        else:
            app, self.app = self.app, refusal
            try:
                self._begin_scope()
                super().on_headers_complete()
            finally:
                self.app = app
        if self.wire.closing and self.cycle is not None:
            self.cycle.keep_alive = False

    def _take_fast(self) -> bool:
        """Make this request a ``FastCall`` when the fast path takes it and nothing else on
        the connection is being answered (pipelined requests queue behind it in uvicorn's
        pipeline, since it stands in as the connection's cycle)."""
        fast = self.wire.fast
        if fast is None or self.pipeline or self.parser.should_upgrade() or not (
                self.cycle is None or self.cycle.response_complete):
            return False
        keep_alive = (self.parser.get_http_version() != "1.0"
                      and self.parser.should_keep_alive() and not self.wire.closing)
        call = fast.accept(self, self.parser.get_method(), self.url, self.headers, keep_alive)
        if call is None:
            return False
        self.cycle = call  # type: ignore[assignment]
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        call = self.cycle
        if isinstance(call, FastCall):
            call.abandon()  # a body cut short is recorded as on the ASGI path
        super().connection_lost(exc)

    def on_body(self, body: bytes) -> None:
        call = self.cycle
        if isinstance(call, FastCall):
            call.add_body(body)
        else:
            super().on_body(body)

    def _head_size(self) -> int:
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def on_message_complete(self) -> None:
        call = self.cycle
        if isinstance(call, FastCall):
            call.start()
        else:
            super().on_message_complete()
        self.reading_head = True
        self.deadline = _NEVER
        call = self.cycle
        if call is not None and call.response_complete and not self.pipeline:
            self.idle = True  # answered before its body was read (a 404, a 413)
            self.deadline = self.loop.time() + self.wire.limits.keep_alive_s

    def time_out(self) -> None:
        """The head or body is overdue: answer 408 if nothing was answered yet, and close; or
        the connection sat idle for the keep-alive: close it."""
        self.deadline = _NEVER
        if self.idle:
            self.transport.close()
            return
        phase = "head" if self.reading_head else "body"
        self.wire.client_errors.note("slow client", f"request {phase} not received in time")
        if self.reading_head or self.cycle is None or not self.cycle.response_started:
            self._refuse(408, f"request {phase} not received in time")
        else:
            self.transport.close()  # answered already (e.g. 413 before the body): just stop

    def _refuse(self, status: int, message: str) -> None:
        """Answer straight on the transport (no request to answer through) and close."""
        if self.transport.is_closing():
            return
        body = _error_body(message)
        self.transport.write(b"".join([
            STATUS_LINE[status], b"content-type: application/json\r\n",
            b"content-length: ", str(len(body)).encode(), b"\r\n",
            b"connection: close\r\n\r\n", body]))
        self.transport.close()


def _error_body(message: str) -> bytes:
    import orjson

    return orjson.dumps({"error": message})


class _Refusal:
    """An ASGI app that answers every request with one error and closes the connection."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        self._body = _error_body(message)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(self._body)).encode()),
                   (b"connection", b"close")]
        if self.status == 503:
            headers.append((b"retry-after", b"1"))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self._body})

