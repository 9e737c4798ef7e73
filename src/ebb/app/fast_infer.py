"""The REST infer call answered straight from the HTTP parser, without the ASGI layer.

For each request uvicorn builds a scope, a cycle object, a task running the ASGI app, receive
and send callables and message dicts; for a small infer call that machinery cost more CPU than
Ebb's own decode, queue and answer together (``bench/README.md``, issue 15). So
``ebb.app.wire.GuardedProtocol`` asks ``FastInfer.accept`` at the end of each request head. A
plain JSON infer call (``POST /v2/models/{m}[/versions/{v}]/infer``; a Content-Length within
``FAST_MAX_BODY`` and the body limit; no Content-Encoding, binary extension, Expect or Origin;
an allowed Host) becomes a ``FastCall``: the protocol collects its body, one task runs
``RestApp.answer_infer`` (the ASGI path's checks, recording and error answers), and the answer
is written as one buffer. Everything else goes through the ASGI app as before, and so does every
request when middleware must see infer calls (API keys, the access log): the server then builds
no ``FastInfer``. ``ebb serve --asgi-infer`` turns the fast path off.

A ``FastCall`` stands in for uvicorn's cycle on its connection: it has the attributes uvicorn and
``GuardedProtocol`` read (``response_started``, ``response_complete``, ``keep_alive``,
``disconnected``, ``message_event``), so that a pipelined request waits behind it in uvicorn's
own pipeline, a shutdown's ``Connection: close`` reaches it, and read timeouts apply.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from ebb.protocol.browser import BrowserPolicy
from ebb.protocol.codec import encode_error

if TYPE_CHECKING:
    from ebb.app.flat_infer import FlatInfer
    from ebb.protocol.rest import RestApp

log = logging.getLogger("ebb.http")

FAST_MAX_BODY = 64 * 1024
"""Bodies up to this size take the fast path; larger ones reserve their memory before they are
read, which only the ASGI path does (``ebb.protocol.budget``)."""

_KEPT = 256
"""Distinct URLs and Host values whose checks are remembered (a bound: each may be unique)."""
_PREFIX = b"/v2/models/"
_SUFFIX = b"/infer"
_SLOW_HEADERS = frozenset({b"content-encoding", b"inference-header-content-length",
                           b"transfer-encoding", b"expect", b"origin"})


def infer_route(url: bytes) -> tuple[str, str] | None:
    """(model, version) of ``/v2/models/{m}[/versions/{v}]/infer`` (any query ignored); None
    for any other path, and for escaped, fragment-carrying or non-ASCII ones (the ASGI path
    parses those)."""
    path = url.split(b"?", 1)[0]
    if not (path.startswith(_PREFIX) and path.endswith(_SUFFIX)) or b"%" in path or b"#" in path:
        return None
    parts = path[len(_PREFIX):-len(_SUFFIX)].split(b"/")
    if len(parts) == 1 and parts[0]:
        name, version = parts[0], b""
    elif len(parts) == 3 and parts[0] and parts[1] == b"versions" and parts[2]:
        name, version = parts[0], parts[2]
    else:
        return None
    if not (name.isascii() and version.isascii()):
        return None
    return name.decode(), version.decode()


class FastInfer:
    """Decides which requests take the fast path and answers them through ``rest``."""

    def __init__(self, rest: RestApp, browser: BrowserPolicy, flat: FlatInfer | None = None
                 ) -> None:
        self.rest = rest
        self.flat = flat
        """Answers the common call without the layers (``ebb.app.flat_infer``); what it
        declines goes to ``rest.answer_infer``."""
        self._browser = browser
        self._max_body = min(FAST_MAX_BODY, rest.max_body_bytes)
        self._heads: dict[tuple[int, bytes], bytes] = {}
        self._heads_for: list[tuple[bytes, bytes]] = []
        self._routes: dict[bytes, tuple[str, str]] = {}
        """``infer_route`` of URLs seen (clients repeat a few), up to ``_KEPT``."""
        self._hosts: dict[bytes, bool] = {}
        """``host_allowed`` of Host values seen, up to ``_KEPT``."""

    def accept(self, protocol: Any, method: bytes, url: bytes,
               headers: list[tuple[bytes, bytes]], keep_alive: bool) -> FastCall | None:
        """A ``FastCall`` for a plain small JSON infer call; None sends it the ASGI way."""
        if method != b"POST":
            return None
        route = self._routes.get(url)
        if route is None:
            route = infer_route(url)
            if route is None:
                return None
            if len(self._routes) < _KEPT:
                self._routes[url] = route
        length = -1
        timeout: bytes | None = None
        for name, value in headers:
            if name == b"content-length":
                if not value.isdigit():
                    return None
                length = int(value)
            elif name == b"host":
                allowed = self._hosts.get(value)
                if allowed is None:
                    allowed = self._browser.host_allowed(value)
                    if len(self._hosts) < _KEPT:
                        self._hosts[value] = allowed
                if not allowed:
                    return None  # the ASGI path answers 421
            elif name == b"ebb-timeout-ms":
                if timeout is not None:
                    return None  # repeated: the ASGI path checks every value
                timeout = value
            elif name in _SLOW_HEADERS:
                return None
        if not 0 <= length <= self._max_body:  # over the limit: the ASGI path answers 413
            return None
        return FastCall(self, protocol, route[0], route[1], timeout, keep_alive)

    def head(self, status: int, content_type: bytes, defaults: list[tuple[bytes, bytes]]
             ) -> bytes:
        """Status line, the server's default headers and the content type, built once."""
        if defaults != self._heads_for:
            self._heads.clear()
            self._heads_for = list(defaults)
        key = (status, content_type)
        head = self._heads.get(key)
        if head is None:
            head = self._heads[key] = b"".join(
                [STATUS_LINE[status], *(name + b": " + value + b"\r\n" for name, value in defaults),
                 b"content-type: ", content_type, b"\r\n"])
        return head


class _NoEvent:
    """uvicorn sets its cycle's message event when a connection is lost; nothing waits here."""

    @staticmethod
    def set() -> None:
        return None


_NO_EVENT = _NoEvent()


class FastCall:
    """One fast infer call on one connection, from its head to its answer."""

    __slots__ = ("_chunks", "_fast", "_name", "_protocol", "_started", "_timeout", "_version",
                 "disconnected", "keep_alive", "message_event", "response_complete",
                 "response_started")

    def __init__(self, fast: FastInfer, protocol: Any, name: str, version: str,
                 timeout: bytes | None, keep_alive: bool) -> None:
        self._fast = fast
        self._protocol = protocol
        self._name = name
        self._version = version
        self._timeout = timeout
        self._chunks: list[bytes] = []
        self._started = False
        self.keep_alive = keep_alive
        self.disconnected = False
        self.response_started = False
        self.response_complete = False
        self.message_event = _NO_EVENT

    def add_body(self, chunk: bytes) -> None:
        self._chunks.append(chunk)

    def abandon(self) -> None:
        """The connection closed before the body was complete: recorded as the ASGI path
        records it (499), never answered."""
        if not self._started:
            self._started = True
            self._chunks = []
            self._fast.rest.record_abandoned(self._name)

    def start(self) -> None:
        """The body is complete: answer it in a task the server's shutdown waits for."""
        if self._started:
            return
        self._started = True
        body = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks = []
        protocol = self._protocol
        task = protocol.loop.create_task(self._answer(body))
        protocol.tasks.add(task)
        task.add_done_callback(protocol.tasks.discard)

    async def _answer(self, body: bytes) -> None:
        try:
            answer = None
            if self._fast.flat is not None:
                answer = await self._fast.flat.answer(self._name, self._version, body,
                                                      self._timeout)
            if answer is None:
                answer = await self._fast.rest.answer_infer(self._name, self._version, body,
                                                            self._timeout)
            status, content_type, payload, extra = answer
        except asyncio.CancelledError:
            self._finish_unanswered()
            raise
        except Exception as error:  # answer_infer maps every error; this is a bug's last stop
            log.error("unexpected error answering an infer call to %r", self._name,
                      exc_info=error)
            status, content_type, payload, extra = 500, b"application/json", encode_error(
                "internal server error"), []
        try:
            await self._write(status, content_type, payload, extra)
        except asyncio.CancelledError:
            self._finish_unanswered()
            raise

    def _finish_unanswered(self) -> None:
        self.response_complete = True
        self._protocol.transport.close()

    async def _write(self, status: int, content_type: bytes, payload: bytes,
                     extra: list[tuple[bytes, bytes]]) -> None:
        """Write the answer; a client that does not read it holds back its next request (the
        call stays the connection's cycle until the transport drains, as ASGI's send waits)."""
        protocol = self._protocol
        transport = protocol.transport
        self.response_started = True
        if self.disconnected or transport.is_closing():
            self.response_complete = True  # nobody to answer; the call was still served
            return
        keep_alive = self.keep_alive and not protocol.wire.closing
        parts = [self._fast.head(status, content_type, protocol.server_state.default_headers),
                 b"content-length: ", str(len(payload)).encode(), b"\r\n"]
        for name, value in extra:
            parts += (name, b": ", value, b"\r\n")
        if not keep_alive:
            parts.append(b"connection: close\r\n")
        parts += (b"\r\n", payload)
        transport.write(b"".join(parts))
        if not keep_alive:
            transport.close()
        elif protocol.flow.write_paused:
            await protocol.flow.drain()  # connection_lost resumes it too
        self.response_complete = True
        protocol.on_response_complete()
