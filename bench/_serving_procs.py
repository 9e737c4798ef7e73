"""Processes for ``bench/serving.py``: tools, the KServe venv, pinned servers that always stop.

A server runs in its own session (process group) under ``taskset -c CPU``, so its worker
children inherit the pinning and one ``killpg`` ends all of them — on success, on an error and on
Ctrl-C alike (``ServerProcess`` is a context manager).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psutil

STOP_GRACE_S = 10.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def ensure_tool(command: str, debian_package: str) -> None:
    """Install ``debian_package`` with apt-get when ``command`` is not on PATH."""
    if shutil.which(command):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print(f"installing {debian_package} (for {command}) with apt-get", flush=True)
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, timeout=600)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends",
                    debian_package], check=True, timeout=600)


def kserve_version(python: Path) -> str | None:
    if not python.exists():
        return None
    probe = subprocess.run([str(python), "-c", "from importlib import metadata; "
                            "print(metadata.version('kserve'))"],
                           capture_output=True, text=True, timeout=60)
    return probe.stdout.strip() if probe.returncode == 0 else None


def ensure_kserve_venv(venv: Path, requirement: str, prefix: str, install: bool) -> Path:
    """The Python of ``venv`` with ``requirement`` installed; creates it on first use."""
    python = venv / "bin" / "python"
    version = kserve_version(python)
    if version is not None and version.startswith(prefix):
        print(f"KServe {version} found in {venv}", flush=True)
        return python
    if not install:
        raise SystemExit(f"no kserve {prefix}* in {venv}; run without --skip-kserve-install")
    print(f"creating {venv} and installing {requirement} (first run only, ~1 min)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(python), "-m", "pip", "install", "--upgrade", "pip"], check=True,
                   timeout=600)
    subprocess.run([str(python), "-m", "pip", "install", requirement], check=True, timeout=1800)
    print(f"KServe {kserve_version(python)} installed in {venv}", flush=True)
    return python


def cpu_busy(cpus: Sequence[int], interval_s: float = 1.0) -> dict[int, float]:
    """Fraction of time each CPU was busy over ``interval_s`` (anyone's processes)."""

    def sample() -> dict[int, tuple[int, int]]:
        times = {}
        for line in Path("/proc/stat").read_text().splitlines():
            name, *fields = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                ticks = [int(field) for field in fields]
                times[int(name[3:])] = (sum(ticks), ticks[3] + ticks[4])  # total, idle+iowait
        return times

    before = sample()
    time.sleep(interval_s)
    after = sample()
    busy = {}
    for cpu, (total, idle) in after.items():
        elapsed = total - before[cpu][0]
        busy[cpu] = 1.0 - (idle - before[cpu][1]) / elapsed if elapsed else 0.0
    return busy


def wait_for_quiet(cpus: Sequence[int], threshold: float, patience_s: float) -> float:
    """Wait up to ``patience_s`` for ``cpus`` to be idle; returns the busiest share last seen.

    The benchmark's own processes are stopped when this runs, so any load is someone else's
    and would be measured as ours.
    """
    deadline = time.monotonic() + patience_s
    while True:
        busiest = max(cpu_busy(cpus).values(), default=0.0)
        if busiest <= threshold or time.monotonic() >= deadline:
            return busiest
        print(f"  CPUs {list(cpus)} {busiest:.0%} busy with other work; waiting", flush=True)
        time.sleep(4.0)


def cpu_seconds_of_others() -> dict[int, float]:
    """CPU seconds used so far by every process that is not this one or its descendants."""
    me = psutil.Process()
    own = {me.pid, *(child.pid for child in me.children(recursive=True))}
    used = {}
    for process in psutil.process_iter(["pid", "cpu_times"]):
        times = process.info["cpu_times"]
        if process.info["pid"] not in own and times is not None:
            used[process.info["pid"]] = times.user + times.system
    return used


def cpu_share_of_others(before: dict[int, float], after: dict[int, float], seconds: float
                        ) -> float:
    """How many CPUs' worth other processes used between two ``cpu_seconds_of_others``."""
    spent = sum(total - before.get(pid, 0.0) for pid, total in after.items())
    return max(spent, 0.0) / seconds


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server and how to tell that it is ready."""

    name: str
    argv: Sequence[str]
    http_port: int | None
    grpc_port: int | None
    health_path: str | None = None  # GET on http_port answering 200 once ready; None: ports
    env: Mapping[str, str] | None = None  # the server's environment; None: this one's


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def health_ok(port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


class ServerProcess:
    """A server pinned to ``cpu``, started on enter, its whole process group stopped on exit."""

    def __init__(self, spec: ServerSpec, cpu: int, log_path: Path) -> None:
        self.spec = spec
        self.cpu = cpu
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        argv = ["taskset", "-c", str(self.cpu), *self.spec.argv]
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True,
                                             env=self.spec.env)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited at start:\n{self.log_tail()}")
            if self._ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.spec.name} not ready in {timeout_s:.0f} s:\n{self.log_tail()}")

    def _ready(self) -> bool:
        ports = [port for port in (self.spec.http_port, self.spec.grpc_port) if port]
        if not all(port_open(port) for port in ports):
            return False
        if self.spec.health_path is None or self.spec.http_port is None:
            return True
        return health_ok(self.spec.http_port, self.spec.health_path)

    def processes(self) -> list[psutil.Process]:
        """The server and its children (workers), all of which should sit on ``cpu``."""
        try:
            leader = psutil.Process(self.pid)
            return [leader, *leader.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def pinning(self) -> str:
        """``'3 processes, all on CPU 0'`` or a list of the ones that escaped."""
        processes = self.processes()
        escaped = [f"pid {p.pid} on {p.cpu_affinity()}" for p in processes
                   if p.cpu_affinity() != [self.cpu]]
        if escaped:
            return "NOT pinned: " + ", ".join(escaped)
        return f"{len(processes)} process(es), all on CPU {self.cpu}"

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self._process is None:
            return
        group = self._process.pid
        self._signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while self._group_alive(group) and time.monotonic() < deadline:
            self._process.poll()
            time.sleep(0.1)
        if self._group_alive(group):
            self._signal_group(group, signal.SIGKILL)
        self._process.wait(timeout=STOP_GRACE_S)
        self._process = None

    @staticmethod
    def _signal_group(group: int, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signum)

    @staticmethod
    def _group_alive(group: int) -> bool:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        return True
