"""The normal client of ``bench/reliability.py``: what an innocent user sees while something bad
happens to the server. It alternates ``GET /v2/health/ready`` and a small infer on one kept-alive
connection, back to back, and samples the gateway's memory, until stopped.

    with NormalClient(port, "chaos", gateway_pid) as seen:
        attack()
    print(seen.p99_ms, seen.failures, seen.rss_growth_mb)
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field

import psutil
from _reliability_load import infer_body, percentile_ms

_PAUSE_S = 0.005


@dataclass
class Seen:
    health_s: list[float] = field(default_factory=list)
    infer_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    not_ready: int = 0
    """Readiness probes answered 503: no worker could answer then (true, so not a failure)."""
    rss_before: int = 0
    rss_peak: int = 0

    @property
    def requests(self) -> int:
        return len(self.health_s) + len(self.infer_s)

    @property
    def p50_ms(self) -> float:
        return percentile_ms(self.health_s + self.infer_s, 50)

    @property
    def p99_ms(self) -> float:
        return percentile_ms(self.health_s + self.infer_s, 99)

    @property
    def rss_growth_mb(self) -> float:
        return (self.rss_peak - self.rss_before) / 2**20


class NormalClient:
    def __init__(self, port: int, model: str, gateway_pid: int) -> None:
        self._port = port
        self._path = f"/v2/models/{model}/infer"
        self._body = infer_body([1.0] * 16)
        self._gateway = psutil.Process(gateway_pid)
        self._stop = threading.Event()
        self.seen = Seen()
        self._threads = [threading.Thread(target=self._requests, daemon=True),
                         threading.Thread(target=self._memory, daemon=True)]

    def __enter__(self) -> Seen:
        self.seen.rss_before = self.seen.rss_peak = self._gateway.memory_info().rss
        for thread in self._threads:
            thread.start()
        time.sleep(0.2)
        return self.seen

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.2)
        self._stop.set()
        for thread in self._threads:
            thread.join(15)

    def _requests(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=10)
        headers = {"Content-Type": "application/json"}
        health = True
        while not self._stop.is_set():
            began = time.perf_counter()
            try:
                if health:
                    connection.request("GET", "/v2/health/ready")
                else:
                    connection.request("POST", self._path, self._body, headers)
                response = connection.getresponse()
                response.read()
                status = str(response.status)
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                status = f"transport: {type(error).__name__}"
            elapsed = time.perf_counter() - began
            if health and status == "503":
                self.seen.not_ready += 1
            elif status != "200":
                self.seen.failures.append(("health " if health else "infer ") + status)
            else:
                (self.seen.health_s if health else self.seen.infer_s).append(elapsed)
            health = not health
            time.sleep(_PAUSE_S)
        connection.close()

    def _memory(self) -> None:
        while not self._stop.wait(0.02):
            try:
                rss = self._gateway.memory_info().rss
            except psutil.NoSuchProcess:
                return
            self.seen.rss_peak = max(self.seen.rss_peak, rss)
