"""``HttpServer`` in process: ``close_idle`` closes idle keep-alive connections at once and
answers the next request on a busy one with ``Connection: close``; the sweep times out heads."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

from ebb.app.http import HttpServer
from ebb.app.wire import WireLimits
from ebb.protocol.asgi import Receive, Scope, Send


async def _hello(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"hi"})


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    await reader.readexactly(2)
    return head


@contextlib.asynccontextmanager
async def _served(limits: WireLimits) -> AsyncIterator[tuple[HttpServer, int]]:
    sock = socket.create_server(("127.0.0.1", 0))
    server = HttpServer(_hello, None, limits)
    await server.start(sock)
    try:
        yield server, sock.getsockname()[1]
    finally:
        await server.stop()


async def test_close_idle_and_head_timeouts() -> None:
    async with _served(WireLimits(header_timeout_s=0.3)) as (server, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert b"keep-alive: timeout=75" in (await _exchange(reader, writer)).lower()
        slow_reader, slow_writer = await asyncio.open_connection("127.0.0.1", port)
        slow_writer.write(b"GET / HTTP/1.1\r\n")
        answer = await asyncio.wait_for(slow_reader.read(), 3)
        assert answer.startswith(b"HTTP/1.1 408")
        server.close_idle()
        assert await asyncio.wait_for(reader.read(), 3) == b""  # idle: closed at once
        late_reader, late_writer = await asyncio.open_connection("127.0.0.1", port)
        assert b"connection: close" in (await _exchange(late_reader, late_writer)).lower()
        for opened in (writer, slow_writer, late_writer):
            opened.close()


async def test_idle_keep_alive_closes_by_the_sweep_also_after_an_answer_before_the_body() -> None:
    """The keep-alive is a sweep deadline, not a timer per answer: a connection idle past it is
    closed, also when its last request was answered before its body arrived."""
    async with _served(WireLimits(keep_alive_s=0.4)) as (_server, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await _exchange(reader, writer)
        await asyncio.sleep(0.2)
        await _exchange(reader, writer)  # still open: idle under the keep-alive
        started = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(reader.read(), 3) == b""
        assert 0.3 < asyncio.get_running_loop().time() - started < 1.5
        writer.close()
        early_reader, early_writer = await asyncio.open_connection("127.0.0.1", port)
        early_writer.write(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n\r\n")
        await early_reader.readuntil(b"\r\n\r\n")  # answered before the body
        await early_reader.readexactly(2)
        early_writer.write(b"body")
        assert await asyncio.wait_for(early_reader.read(), 3) == b""
        early_writer.close()
