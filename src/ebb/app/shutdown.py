"""The gateway's shutdown sequence on SIGTERM or Ctrl-C, in the order a pod behind a load
balancer needs it (Kubernetes SPEC §4.7), losing nothing that was accepted:

1. ``begin`` (from the signal handler): readiness is false at once; everything is still served.
2. ``prestop_s``: keep serving while load balancers notice and stop routing here (a second
   signal cuts this short).
3. Stop accepting: the HTTP listener and idle keep-alive connections close, gRPC takes no new
   calls, and the queues answer any late request 503 "shutting down" (not counted as load
   shedding).
4. Drain: wait for queued and running requests, up to ``drain_timeout_s``. The gRPC server's
   own grace covers the drain, so no call is cancelled.
5. Past the drain timeout, every request still waiting or running is answered 503 with
   Retry-After (never reset); then the loops and the workers stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from ebb.core.errors import Unavailable
from ebb.serving.dispatcher import QueueDispatcher, ServedModel

log = logging.getLogger("ebb.app")

RETRY_AFTER_S = 1.0
WORKER_STOP_S = 1.0
"""How long workers get to finish after the drain before they are killed."""
TRANSPORT_SLACK_S = 0.5
"""How long the transports get, past the drain, to send the last answers."""


class Shutdown:
    def __init__(self, dispatcher: QueueDispatcher, models: Mapping[str, ServedModel],
                 prestop_s: float, drain_timeout_s: float) -> None:
        self._dispatcher = dispatcher
        self._models = models
        self.prestop_s = prestop_s
        self.drain_timeout_s = drain_timeout_s
        self._hurry = asyncio.Event()
        self.began_at: float | None = None

    def begin(self) -> None:
        """Readiness off now (idempotent; safe in a signal handler). Called again: hurry."""
        if self.began_at is not None:
            self._hurry.set()
            return
        self.began_at = time.monotonic()
        self._dispatcher.draining = True

    def describe(self) -> str:
        wait = (f"serving {self.prestop_s:g} s more while load balancers stop routing here "
                "(--prestop-s; a second signal skips it), then " if self.prestop_s else "")
        return (f"readiness is off; {wait}finishing accepted requests for up to "
                f"{self.drain_timeout_s:g} s (--drain-timeout-s)")

    async def run(self, stop_http: Callable[[], Awaitable[None]],
                  stop_grpc: Callable[[float], Awaitable[None]],
                  stop_loops: Callable[[], Awaitable[None]]) -> None:
        """Steps 2 to 5; returns when the workers are stopped."""
        if self.began_at is None:
            self.begin()
        if self.prestop_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hurry.wait(), self.prestop_s)
        log.info("shutdown: no longer accepting; draining")
        for served in self._models.values():
            served.queue.close()
        transports = asyncio.gather(
            stop_http(), stop_grpc(self.drain_timeout_s + 2 * TRANSPORT_SLACK_S),
            return_exceptions=True)
        drained = await self._drain()
        if drained:
            log.info("shutdown: every accepted request answered")
        else:
            self._answer_the_rest()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(transports), TRANSPORT_SLACK_S)
        await stop_loops()
        await asyncio.gather(*(served.pool.close(WORKER_STOP_S)
                               for served in self._models.values()))
        log.info("shutdown: workers stopped")
        if not transports.done():
            transports.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await transports

    def _busy(self) -> bool:
        return any(served.queue.depth or served.pool.inflight
                   for served in self._models.values())

    async def _drain(self) -> bool:
        """Wait until no request is queued or running; False when the timeout came first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain_timeout_s
        while self._busy():
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def _answer_the_rest(self) -> None:
        error = Unavailable("server is shutting down; the request was not finished within "
                            "--drain-timeout-s: retry it", RETRY_AFTER_S)
        count = 0
        for served in self._models.values():
            count += served.queue.drain_all(error)
            count += served.pool.fail_running(error)
        log.warning("drain timeout (%g s) reached: %d request(s) answered 503 with Retry-After",
                    self.drain_timeout_s, count)
