"""Real ``ebb serve`` processes for ``bench/reliability.py``: pinned to the server core, on free
loopback ports, read back through their banner, their log and ``/metrics``, and always stopped.

The server runs under ``taskset -c SERVER_CPU`` in its own session (its workers inherit the
pinning); the benchmark process pins itself to ``LOAD_CPU`` (``pin_load``), so load and server
never share a core.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

import psutil

SERVER_CPU = 0
LOAD_CPU = 1
START_TIMEOUT_S = 60.0
_BANNER_REST = re.compile(r"REST\s+http://127\.0\.0\.1:(\d+)/v2")
_BANNER_GRPC = re.compile(r"gRPC\s+127\.0\.0\.1:(\d+)")


def pin_load() -> str:
    """Pin this process (and the threads it starts) to the load core; says what was done."""
    cpus = os.cpu_count() or 1
    if cpus < 2:
        return "1 CPU: server and load share it"
    os.sched_setaffinity(0, {LOAD_CPU})
    return f"server on CPU {SERVER_CPU}, load generator on CPU {LOAD_CPU}"


class Server:
    """``ebb serve MODEL ARGS`` on free ports; a context manager that stops it (and its
    workers) however the block ends."""

    def __init__(self, log_dir: Path, label: str, model: str, *args: str) -> None:
        self.log_path = log_dir / f"{label}.log"
        self.argv = ["taskset", "-c", str(SERVER_CPU), sys.executable, "-m", "ebb", "serve",
                     model, *args, "--http-port", "0", "--grpc-port", "0"]
        self.process: subprocess.Popen[bytes] | None = None
        self.http_port = self.grpc_port = 0

    def __enter__(self) -> Server:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._wait_for_banner()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.kill()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _wait_for_banner(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            text = self.log()
            rest, grpc = _BANNER_REST.search(text), _BANNER_GRPC.search(text)
            if rest and grpc:
                self.http_port, self.grpc_port = int(rest.group(1)), int(grpc.group(1))
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"ebb serve exited with {self.process.returncode}:\n{text}")
            time.sleep(0.05)
        raise RuntimeError(f"ebb serve did not start in {START_TIMEOUT_S:.0f} s:\n{self.log()}")

    def terminate(self) -> None:
        """SIGTERM to the gateway alone, as Kubernetes sends it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout_s: float) -> int | None:
        assert self.process is not None
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """SIGINT (a clean stop), then SIGKILL of the whole session after a grace."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            if self.wait(15) is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # anything left in its session

    def rss_mb(self) -> float:
        """The gateway's resident memory (workers excluded)."""
        try:
            return psutil.Process(self.pid).memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            return 0.0

    def cpu_s(self) -> float:
        """CPU seconds the gateway has used (workers excluded)."""
        try:
            times = psutil.Process(self.pid).cpu_times()
        except psutil.NoSuchProcess:
            return 0.0
        return float(times.user + times.system)

    def worker_pids(self) -> list[int]:
        """The worker processes: children of the gateway's fork server."""
        workers = []
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(self.pid).children():
                if "forkserver" in " ".join(child.cmdline()):
                    workers += [grand.pid for grand in child.children()]
        return workers

    def metric(self, series: str) -> float:
        """One sample of ``/metrics`` by its full series name; 0 when absent."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        for line in text.splitlines():
            if line.startswith(series + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def tracebacks(self) -> int:
        return self.log().count("Traceback")


class Bench:
    """What every experiment gets: where logs go, full or quick, and a progress printer."""

    def __init__(self, log_dir: Path, quick: bool) -> None:
        self.log_dir = log_dir
        self.quick = quick
        self._began = time.monotonic()

    def pick(self, full: float, quick: float) -> float:
        return quick if self.quick else full

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self._began:6.1f} s] {text}", flush=True)

    def server(self, label: str, model: str, *args: str) -> Server:
        return Server(self.log_dir, label, model, *args)
