"""Reading every pod's ``/metrics`` each tick: concurrently, each bounded in time, over TLS and
with an API key when the pods ask for them.

TLS (issue 11): pods are reached by address, so the certificate is checked against the name
the Service gives them (``--scrape-server-name``, default ``SERVICE.NAMESPACE.svc``, what
``ebb k8s render --tls-secret`` expects in the PodMonitor too), sent as SNI and verified. The
bearer token (an ``observe`` key) is read from its file and re-read when the file changes (a
rotated Secret), never logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import httpx

from ebb.autoscale.sources.counters import GatewayCounters
from ebb.autoscale.sources.scrape import counters_from_exposition
from ebb.kubernetes.controller.api import Endpoint
from ebb.kubernetes.controller.settings import ScrapeTls
from ebb.loadgen.http1 import client_context
from ebb.metrics import names

log = logging.getLogger("ebb.kubernetes.controller")


@dataclass(frozen=True, slots=True)
class PodReading:
    endpoint: Endpoint
    counters: GatewayCounters | None
    """None: the pod did not answer in time (unreported)."""
    models: frozenset[str] = frozenset()

    @property
    def work(self) -> int:
        """Requests queued or in flight on this pod (0 when unknown)."""
        return self.counters.queue_depth + self.counters.inflight if self.counters else 0


def served_models(text: str) -> set[str]:
    """The models a pod's exposition reports a queue for."""
    return {line.split('model="', 1)[1].split('"', 1)[0] for line in text.splitlines()
            if line.startswith(names.QUEUE_DEPTH + "{") and 'model="' in line}


def pod_counters(text: str, models: set[str]) -> GatewayCounters:
    """One pod's counters, summed over every model it serves (pods scale as a whole)."""
    parts = [counters_from_exposition([text], model) for model in sorted(models)]
    return GatewayCounters(*(sum(getattr(part, f) for part in parts)
                             for f in GatewayCounters.__slots__))


def metrics_url(endpoint: Endpoint, https: bool = False) -> str:
    host = f"[{endpoint.address}]" if ":" in endpoint.address else endpoint.address
    scheme = "https" if https or endpoint.scheme == "https" else "http"
    return f"{scheme}://{host}:{endpoint.port}/metrics"


class TokenFile:
    """A bearer token kept in a file, re-read when the file changes."""

    def __init__(self, path: str) -> None:
        self._path = Path(path)
        self._seen: tuple[int, int] | None = None
        self._token = ""
        self.read()

    def read(self) -> str:
        """The token; OSError (at start-up) when the file cannot be read or is empty."""
        stat = os.stat(self._path)
        key = (stat.st_mtime_ns, stat.st_size)
        if key != self._seen:
            token = self._path.read_text().strip()
            if not token:
                raise OSError(f"--scrape-bearer-token-file {self._path} is empty")
            self._token, self._seen = token, key
        return self._token

    def current(self) -> str:
        """The token, or the last one read when the file is briefly missing (mid-rotation)."""
        try:
            return self.read()
        except OSError as error:
            log.warning("cannot re-read the scrape token file: %s; using the last one",
                        error.strerror or error)
            return self._token


class PodScraper:
    """Reads every endpoint at once, each bounded by ``timeout_s`` in total (a pod that
    accepts the connection and then hangs cannot stall the tick), at most ``concurrency`` at
    a time. OSError at construction when a TLS or token file cannot be used."""

    def __init__(self, timeout_s: float, concurrency: int = 64, tls: ScrapeTls | None = None,
                 server_name: str | None = None) -> None:
        tls = tls or ScrapeTls()
        self._timeout_s = timeout_s
        self._limit = asyncio.Semaphore(concurrency)
        self._https = tls.https
        self._server_name = tls.server_name or server_name
        try:
            verify = client_context(
                Path(tls.ca_file) if tls.ca_file else None,
                Path(tls.cert_file) if tls.cert_file else None,
                Path(tls.key_file) if tls.key_file else None)
        except OSError as error:  # its words name the load generator's flags
            raise OSError(str(error).replace(" --", " --scrape-")) from None
        self._token = TokenFile(tls.token_file) if tls.token_file else None
        self._statuses: set[int] = set()
        self._client = httpx.AsyncClient(timeout=timeout_s, verify=verify,
                                         limits=httpx.Limits(max_connections=concurrency))

    def _refused(self, status: int) -> None:
        """Says once per status why pods refuse (a wrong key or CA refuses every tick)."""
        if status not in self._statuses:
            self._statuses.add(status)
            hint = " (check --scrape-bearer-token-file)" if status in (401, 403) else ""
            log.warning("pods answer /metrics with %d%s", status, hint)

    def _request(self, endpoint: Endpoint) -> httpx.Request:
        url = metrics_url(endpoint, self._https)
        headers = {"Authorization": f"Bearer {self._token.current()}"} if self._token else {}
        extensions = ({"sni_hostname": self._server_name}
                      if url.startswith("https:") and self._server_name else {})
        return self._client.build_request("GET", url, headers=headers, extensions=extensions)

    async def _one(self, endpoint: Endpoint) -> PodReading:
        async with self._limit:
            try:
                async with asyncio.timeout(self._timeout_s):
                    response = await self._client.send(self._request(endpoint))
                    text = response.raise_for_status().text
                models = served_models(text)
                return PodReading(endpoint, pod_counters(text, models), frozenset(models))
            except httpx.HTTPStatusError as error:
                self._refused(error.response.status_code)
                return PodReading(endpoint, None)
            except (TimeoutError, httpx.HTTPError, ValueError) as error:
                log.debug("scrape of %s failed: %r", endpoint.address, error)
                return PodReading(endpoint, None)

    async def scrape(self, endpoints: tuple[Endpoint, ...]) -> list[PodReading]:
        return list(await asyncio.gather(*(self._one(e) for e in endpoints)))

    async def close(self) -> None:
        await self._client.aclose()
