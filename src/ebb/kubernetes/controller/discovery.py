"""The pods behind a Service, from its EndpointSlices: listed once, then watched.

Watch, not a list every tick: a list per tick from every controller replica is a steady load on
the API server for an answer that rarely changes, while a watch costs nothing between changes
and still delivers a new pod's readiness within milliseconds. The watch runs on a daemon thread
(the official client streams synchronously); it resumes from the last ``resourceVersion``,
relists on 410 Gone or repeated errors, and relists every few minutes as a safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Mapping

from ebb.kubernetes.controller.api import ApiError, Endpoint, KubeApi, SliceEvent, SliceList

log = logging.getLogger("ebb.kubernetes.controller")

WATCH_TIMEOUT_S = 60
RELIST_EVERY_S = 300.0


def merge_endpoints(slices: Mapping[str, tuple[Endpoint, ...]]) -> tuple[Endpoint, ...]:
    """Every endpoint once, de-duplicated by pod uid (a pod may sit in two slices while they
    are rebalanced), in a stable order."""
    seen: dict[str, Endpoint] = {}
    for name in sorted(slices):
        for endpoint in slices[name]:
            seen.setdefault(endpoint.uid, endpoint)
    return tuple(seen.values())


class PodDirectory:
    """The Service's endpoints as last seen; ``endpoints()`` never waits for the API server."""

    def __init__(self, api: KubeApi, namespace: str, service: str) -> None:
        self._api = api
        self._namespace = namespace
        self._service = service
        self._slices: dict[str, tuple[Endpoint, ...]] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._version = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.changes = 0
        """Slice events applied (tests wait on it)."""

    def endpoints(self) -> tuple[Endpoint, ...]:
        with self._lock:
            return merge_endpoints(self._slices)

    async def start(self) -> None:
        """List once (errors propagate, so a wrong Service or RBAC fails at start-up), then
        watch in the background."""
        self._loop = asyncio.get_running_loop()
        self._replace(await self._api.list_endpoint_slices(self._namespace, self._service))
        self._thread = threading.Thread(target=self._watch_forever, daemon=True,
                                        name=f"endpointslices {self._service}")
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _replace(self, listed: SliceList) -> None:
        with self._lock:
            self._slices = dict(listed.slices)
            self._version = listed.resource_version
            self.changes += 1

    def apply(self, event: SliceEvent) -> None:
        with self._lock:
            if event.kind == "DELETED":
                self._slices.pop(event.name, None)
            elif event.kind in ("ADDED", "MODIFIED"):
                self._slices[event.name] = event.endpoints
            if event.resource_version:
                self._version = event.resource_version
            self.changes += 1

    def _relist(self) -> None:
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(
            self._api.list_endpoint_slices(self._namespace, self._service), self._loop)
        self._replace(future.result(timeout=30))

    def _watch_forever(self) -> None:
        failures = 0
        listed_at = time.monotonic()
        while not self._stopped.is_set():
            try:
                if failures >= 3 or time.monotonic() - listed_at > RELIST_EVERY_S:
                    self._relist()
                    listed_at, failures = time.monotonic(), 0
                for event in self._api.watch_endpoint_slices(
                        self._namespace, self._service, self._version, WATCH_TIMEOUT_S):
                    if self._stopped.is_set():
                        return
                    self.apply(event)
                    failures = 0
            except ApiError as error:
                failures = 3 if error.status == 410 else failures + 1
                log.warning("EndpointSlice watch of %s: %s", self._service, error)
            except Exception as error:  # the loop may be closing; never kill the thread loudly
                failures += 1
                log.warning("EndpointSlice watch of %s failed: %s", self._service, error)
            with contextlib.suppress(Exception):
                self._stopped.wait(min(0.2 * failures, 2.0))
