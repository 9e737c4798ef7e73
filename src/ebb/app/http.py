"""Uvicorn as the HTTP/1.1 front of the REST app, started and stopped by the app.

Uvicorn's own signal handling is off (the app owns the process lifecycle), and start-up is
awaited on an event that uvicorn's start-up sets, raced against the serving task: if uvicorn
fails to start, the error surfaces at once instead of a wait that never ends.

Connections are ``ebb.app.wire.GuardedProtocol``: bounded heads, read timeouts (checked by
``on_tick``, which uvicorn's main loop calls every 0.1 s anyway), a connection limit, and an
idle keep-alive of ``keep_alive_s`` (75 s, beyond the usual balancer and client-pool idle
timeouts) advertised in a ``Keep-Alive`` header.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import uvicorn

from ebb.app.fast_infer import FastInfer
from ebb.app.wire import Wire, WireLimits, protocol_class, sweep
from ebb.protocol.errorlog import ClientErrorLog

if TYPE_CHECKING:
    from ebb.security.tls import SSLContext


CLIENT_ERROR_LOG_INTERVAL_S = 10.0
_SWEEP_EVERY_TICKS = 5


class HttpServer(uvicorn.Server):
    def __init__(self, app: Any, tls: SSLContext | None, limits: WireLimits,
                 fast: FastInfer | None = None) -> None:
        """`tls`: serve HTTPS with this context (ours, so that certificate reloads reach it);
        `fast`: answer plain infer calls without the ASGI layer (``ebb.app.fast_infer``)."""
        factory = None if tls is None else (lambda _config, _default: tls)
        client_errors = ClientErrorLog(logging.getLogger("ebb.http"),
                                       CLIENT_ERROR_LOG_INTERVAL_S, time.monotonic)
        self.wire = Wire(limits, client_errors, fast)
        keep_alive = f"timeout={math.ceil(limits.keep_alive_s)}"
        config = uvicorn.Config(app, http=protocol_class(self.wire), ws="none", lifespan="off",
                                log_level="warning", access_log=False, server_header=False,
                                log_config=None,  # its lines go through ebb.app.logs' handler
                                proxy_headers=False, date_header=False, backlog=4096,
                                ssl_context_factory=factory,
                                timeout_keep_alive=math.ceil(limits.keep_alive_s),
                                headers=[("Keep-Alive", keep_alive)])
        super().__init__(config)
        self._up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def on_tick(self, counter: int) -> bool:
        if counter % _SWEEP_EVERY_TICKS == 0:
            sweep(self.server_state.connections, asyncio.get_running_loop().time())
        return await super().on_tick(counter)

    def close_idle(self) -> None:
        """For shutdown: close idle keep-alive connections now, and every other one after its
        current answer (``Connection: close``), new connections included; keeps listening."""
        self.wire.closing = True
        for connection in list(self.server_state.connections):
            connection.shutdown()

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
