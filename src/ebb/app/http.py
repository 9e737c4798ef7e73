"""Uvicorn as the HTTP/1.1 front of the REST app, started and stopped by the app.

Uvicorn's own signal handling is off (the app owns the process lifecycle), and start-up is
awaited on an event that uvicorn's start-up sets, raced against the serving task: if uvicorn
fails to start, the error surfaces at once instead of a wait that never ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from ebb.security.tls import SSLContext


class HttpServer(uvicorn.Server):
    def __init__(self, app: Any, tls: SSLContext | None) -> None:
        """`tls`: serve HTTPS with this context (ours, so that certificate reloads reach it)."""
        factory = None if tls is None else (lambda _config, _default: tls)
        config = uvicorn.Config(app, http="httptools", lifespan="off", log_level="warning",
                                access_log=False, server_header=False, proxy_headers=False,
                                date_header=False, backlog=4096, ssl_context_factory=factory)
        super().__init__(config)
        self._up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self._up.set()

    async def start(self, sock: socket.socket) -> None:
        """Serve on `sock` in the background; returns once uvicorn listens, or raises."""
        self._task = asyncio.create_task(self.serve(sockets=[sock]), name="ebb-http")
        up = asyncio.create_task(self._up.wait())
        await asyncio.wait({self._task, up}, return_when=asyncio.FIRST_COMPLETED)
        if not self._up.is_set():
            up.cancel()
            self._task.result()
            raise RuntimeError("the HTTP server stopped during start-up")

    async def stop(self) -> None:
        self.should_exit = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
