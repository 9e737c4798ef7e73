"""Shared fixtures: real ``ebb serve`` processes on ephemeral loopback ports."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

_BANNER_REST = re.compile(r"REST\s+(https?)://127\.0\.0\.1:(\d+)/v2")
_BANNER_GRPC = re.compile(r"gRPC\s+127\.0\.0\.1:(\d+)")


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    http_port: int
    grpc_port: int
    log_path: Path
    scheme: str = "http"
    """https when the server was started with TLS."""

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
                 timeout: float = 60, cwd: Path | None = None) -> RunningServer:
    """Start ``ebb serve ARGS`` on free ports (in ``cwd``) and wait for its banner."""
    log_path = tmp_path / f"ebb-serve-{time.monotonic_ns()}.log"
    handle = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "ebb.cli", "serve", *args, "--http-port", "0", "--grpc-port", "0"],
        stdout=handle, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, cwd=cwd,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_text()
        rest, grpc = _BANNER_REST.search(text), _BANNER_GRPC.search(text)
        if rest and grpc:
            return RunningServer(process, int(rest.group(2)), int(grpc.group(1)), log_path,
                                 rest.group(1))
        if process.poll() is not None:
            raise RuntimeError(f"ebb serve exited with {process.returncode}:\n{text}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"ebb serve did not start in {timeout} s:\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def double_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One shared server of builtin:double with two workers, for protocol tests."""
    server = start_server(tmp_path_factory.mktemp("double"), "builtin:double", "--workers", "2",
                          "--max-batch-delay-ms", "1")
    yield server
    server.stop()


@pytest.fixture
def client(double_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=double_server.url, timeout=30) as http:
        yield http
