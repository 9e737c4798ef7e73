"""The controller's own ``/metrics`` and ``/healthz`` on ``--http-port`` (8090).

A few lines of asyncio instead of a web framework: two GET paths, one answer per connection.
``/healthz`` is 200 while ticks keep happening (a wedged loop fails the liveness probe) and
says whether this replica leads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

from ebb.metrics.exposition import Registry, render

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            503: "Service Unavailable"}


class HealthState:
    def __init__(self, clock: Callable[[], float], stale_after_s: float) -> None:
        self._clock, self._stale_after_s = clock, stale_after_s
        self._last_tick = clock()
        self.leader = False

    def ticked(self) -> None:
        self._last_tick = self._clock()

    def body(self) -> tuple[int, dict[str, object]]:
        age = self._clock() - self._last_tick
        healthy = age < self._stale_after_s
        return (200 if healthy else 503,
                {"status": "ok" if healthy else "stalled", "leader": self.leader,
                 "last_tick_age_s": round(age, 3)})


class ControllerHttp:
    def __init__(self, registry: Registry, health: HealthState) -> None:
        self._registry, self._health = registry, health
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._handle, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def _answer(self, method: str, path: str, accept: str) -> tuple[int, bytes, str]:
        path = path.split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return 405, b'{"error": "only GET"}', "application/json"
        if path == "/metrics":
            body, content_type = render(self._registry, accept)
            return 200, body, content_type
        if path in ("/healthz", "/readyz"):
            status, payload = self._health.body()
            return status, json.dumps(payload).encode(), "application/json"
        return 404, b'{"error": "not found: try /metrics or /healthz"}', "application/json"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split()
            headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
            accept = next((v.strip() for k, v in headers.items() if k.lower() == "accept"), "")
            if len(parts) != 3:
                status, body, content_type = 400, b'{"error": "bad request"}', "application/json"
            else:
                status, body, content_type = self._answer(parts[0], parts[1], accept)
            writer.write(f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}"
                         f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                         .encode() + (b"" if parts[:1] == ["HEAD"] else body))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()
