"""A small keep-alive HTTP/1.1 client for sending one prepared request many times, concurrently.

Why not httpx: its connection pool does work proportional to the open connections on every
request, so at a few hundred outstanding requests the *client* becomes the bottleneck and the
load generator would measure itself. Here a request takes an idle connection (or opens one),
writes bytes prepared once, and httptools parses the answer (Content-Length or chunked).
One request per connection at a time; a connection goes back to the idle list only when the
answer was complete and the server allows keep-alive.

    pool = Http1Pool("127.0.0.1", 8080, tls=None)     # or tls=client_context(ca, None, None)
    status, body = await pool.send(prepare_post("127.0.0.1:8080", "/v2/models/m/infer", b"{}"))
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import cast

import httptools

ClientContext = ssl.SSLContext


def client_context(ca_file: Path | None, cert_file: Path | None,
                   key_file: Path | None) -> ClientContext:
    """Verifies servers against `ca_file` (None: the system's CAs); presents `cert_file` with
    `key_file` when a server asks for a client certificate (mutual TLS). OSError naming the file
    when one cannot be used."""
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as error:
        raise OSError(f"cannot use --ca-file {ca_file}: {error.strerror or error}") from None
    if cert_file is not None:
        try:
            context.load_cert_chain(cert_file, key_file)
        except (OSError, ssl.SSLError) as error:
            raise OSError(f"cannot use --cert-file {cert_file} with --key-file {key_file}: "
                          f"{error.strerror or error}") from None
    return context


def prepare_post(authority: str, path: str, body: bytes,
                 content_type: str = "application/json") -> bytes:
    """The full request (head and body) to write on each send."""
    head = (f"POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nUser-Agent: ebb-load\r\n\r\n")
    return head.encode("latin-1") + body


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._answer: asyncio.Future[tuple[int, bytes]] | None = None
        self._body: list[bytes] = []
        self.reusable = False
        self.received = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(ConnectionError(f"malformed HTTP answer: {error}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionError("connection closed before the answer was complete"))

    def on_message_begin(self) -> None:
        self._body = []

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.reusable = self._parser.should_keep_alive()
        if self._answer is not None and not self._answer.done():
            self._answer.set_result((self._parser.get_status_code(), b"".join(self._body)))

    def _fail(self, error: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        assert self._transport is not None
        self.reusable = self.received = False
        self._answer = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        return await self._answer

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


class Http1Pool:
    """Connections to one host; as many as requests outstanding at once, kept alive between."""

    def __init__(self, host: str, port: int, tls: ClientContext | None) -> None:
        self._host = host
        self._port = port
        self._tls = tls
        self._idle: list[_Connection] = []
        self._all: set[_Connection] = set()

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            _Connection, self._host, self._port, ssl=self._tls,
            server_hostname=self._host if self._tls else None)
        self._all.add(connection)
        return connection

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """(status, body) of one exchange. A kept-alive connection that the server had closed
        is retried once on a new connection (nothing of the answer had arrived)."""
        while self._idle:
            connection = self._idle.pop()
            if connection.closed:
                self._all.discard(connection)
                continue
            try:
                return await self._exchange(connection, request)
            except ConnectionError:
                if connection.received:
                    raise
            break
        return await self._exchange(await self._open(), request)

    async def _exchange(self, connection: _Connection, request: bytes) -> tuple[int, bytes]:
        try:
            answer = await connection.exchange(request)
        except BaseException:
            self._discard(connection)
            raise
        if connection.reusable and not connection.closed:
            self._idle.append(connection)
        else:
            self._discard(connection)
        return answer

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        self._all.discard(connection)

    def close(self) -> None:
        for connection in self._all:
            connection.close()
        self._all.clear()
        self._idle.clear()
