"""What the wire-level hostile tests share: a normal client measuring its latency and the
gateway's memory while an attack runs, and raw-socket helpers."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass, field

import psutil

NORMAL_BODY = (b'{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],'
               b'"data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}]}')


@dataclass
class Observed:
    latencies_s: list[float] = field(default_factory=list)
    failures: int = 0
    rss_before: int = 0
    rss_peak: int = 0

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.latencies_s)
        return 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]

    @property
    def rss_growth_mb(self) -> float:
        return (self.rss_peak - self.rss_before) / 2**20


class NormalClient:
    """Sends small infer requests back to back on one keep-alive connection, and samples the
    gateway's RSS, until stopped."""

    def __init__(self, port: int, pid: int) -> None:
        self._port = port
        self._process = psutil.Process(pid)
        self._stop = threading.Event()
        self.observed = Observed()
        self._threads = [threading.Thread(target=self._requests, daemon=True),
                         threading.Thread(target=self._memory, daemon=True)]

    def __enter__(self) -> Observed:
        self.observed.rss_before = self.observed.rss_peak = self._process.memory_info().rss
        for thread in self._threads:
            thread.start()
        time.sleep(0.2)
        return self.observed

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _requests(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=10)
        headers = {"Content-Type": "application/json"}
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                connection.request("POST", "/v2/models/double/infer", NORMAL_BODY, headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                connection.close()
                ok = False
            if ok:
                self.observed.latencies_s.append(time.perf_counter() - started)
            else:
                self.observed.failures += 1
            time.sleep(0.005)

    def _memory(self) -> None:
        while not self._stop.wait(0.02):
            rss = self._process.memory_info().rss
            self.observed.rss_peak = max(self.observed.rss_peak, rss)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def read_status(sock: socket.socket) -> int | None:
    """The status of the answer on ``sock``; None when it was closed without one."""
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        return None
    if not data.startswith(b"HTTP/1.1 "):
        return None
    return int(data[9:12])


def read_response(sock: socket.socket) -> bytes:
    """One whole answer (head and a Content-Length body) from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
