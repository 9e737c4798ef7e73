"""A real Prometheus next to Ebb: the scrape config, and a local server run as a subprocess.

Use :func:`scrape_config` when you run your own Prometheus (``ebb prometheus-config`` prints it);
use :class:`LocalPrometheus` to run Debian's ``prometheus`` binary against a local ``ebb serve``
(``ebb serve --prometheus``, and the integration tests)::

    with LocalPrometheus(["127.0.0.1:8080"]) as prometheus:
        prometheus.wait_for_series("ebb_queue_depth", timeout_s=30)

Errors (all ``RuntimeError``, so a command-line caller can report them in one place)::

    PrometheusError
    ├── PrometheusNotInstalled   the binary is not on PATH (says how to install it)
    ├── PrometheusStartError     it exited or never answered /-/ready (carries its log tail)
    └── PrometheusQueryError     the HTTP API refused a query (bad PromQL, server error)
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import yaml

from ebb.metrics import names

DEFAULT_JOB = "ebb"
INSTALL_HINT = ("install it with `apt-get install prometheus` (Debian/Ubuntu), or put a "
                "release from https://prometheus.io/download/ on PATH")
_READY_POLL_S = 0.1
_START_ATTEMPTS = 3
_LOG_TAIL_CHARS = 4000


class PrometheusError(RuntimeError):
    """Anything that went wrong running or asking the local Prometheus."""


class PrometheusNotInstalled(PrometheusError):
    pass


class PrometheusStartError(PrometheusError):
    pass


class PrometheusQueryError(PrometheusError):
    pass


def duration(seconds: float) -> str:
    """A Prometheus duration string: ``1.0`` -> ``"1s"``, ``0.25`` -> ``"250ms"``."""
    if seconds <= 0:
        raise ValueError(f"a Prometheus duration must be positive, not {seconds}")
    milliseconds = round(seconds * 1000)
    if milliseconds % 1000 == 0:
        return f"{milliseconds // 1000}s"
    return f"{max(milliseconds, 1)}ms"


@dataclass(frozen=True)
class ScrapeTls:
    """Scrape over https: verify the servers against ``ca_file`` (None: the system's CAs) and,
    for servers that require client certificates, present ``cert_file``/``key_file``.
    Paths are written as given (Prometheus reads them relative to its config file)."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure_skip_verify: bool = False
    server_name: str | None = None
    """The name to verify the server's certificate for (None: the target's host)."""

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs both cert_file and key_file")

    def block(self) -> dict[str, Any]:
        """Prometheus' ``tls_config`` of a scrape job."""
        fields = {"ca_file": self.ca_file, "cert_file": self.cert_file,
                  "key_file": self.key_file}
        block: dict[str, Any] = {key: str(path) for key, path in fields.items() if path}
        if self.insecure_skip_verify:
            block["insecure_skip_verify"] = True
        if self.server_name:
            block["server_name"] = self.server_name
        return block


def scrape_config(targets: list[str], interval_s: float = 1.0,
                  rule_files: Sequence[Path | str] = (), job: str = DEFAULT_JOB,
                  tls: ScrapeTls | None = None,
                  bearer_token_file: Path | str | None = None) -> str:
    """The text of a ``prometheus.yml`` that scrapes Ebb's ``/metrics`` at each ``host:port``.

    Rules are evaluated as often as targets are scraped, so alert timing in tests and in
    ``ebb serve --prometheus`` matches the scrape. ``rule_files`` are written as given.
    ``tls``: scrape over https with that ``tls_config``; None: plain http.
    ``bearer_token_file``: send its content as ``Authorization: Bearer`` (servers with
    ``--auth-keys-file`` need a key with the observe role); written as given.
    """
    if not targets:
        raise ValueError("scrape_config needs at least one host:port target")
    interval = duration(interval_s)
    config: dict[str, Any] = {
        "global": {"scrape_interval": interval, "scrape_timeout": interval,
                   "evaluation_interval": interval},
    }
    if rule_files:
        config["rule_files"] = [str(path) for path in rule_files]
    config["scrape_configs"] = [{
        "job_name": job,
        "metrics_path": "/metrics",
        "scrape_interval": interval,
        "scrape_timeout": interval,
        "static_configs": [{"targets": list(targets)}],
    }]
    if tls is not None:
        config["scrape_configs"][0].update(scheme="https", tls_config=tls.block())
    if bearer_token_file is not None:
        config["scrape_configs"][0]["authorization"] = {
            "type": "Bearer", "credentials_file": str(bearer_token_file)}
    header = (f"# Prometheus scraping Ebb ({names.QUEUE_DEPTH} and friends) every {interval}.\n"
              "# Generated by `ebb prometheus-config`.\n")
    return header + yaml.safe_dump(config, sort_keys=False)


def find_binary(name: str = "prometheus") -> str:
    """The path of ``name`` on PATH, or :class:`PrometheusNotInstalled` saying how to get it."""
    path = shutil.which(name)
    if path is None:
        raise PrometheusNotInstalled(f"`{name}` was not found on PATH: {INSTALL_HINT}")
    return path


def _free_port(host: str, preferred: int | None = None) -> int:
    """``preferred`` when it is free (Prometheus' own 9090, where users look), else any."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, preferred or 0))
        except OSError:
            probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class LocalPrometheus:
    """Debian's ``prometheus`` in a subprocess, on a free loopback port, storing in a temp dir.

    Nothing runs until :meth:`start` (or ``with``); :meth:`stop` ends the process and removes
    the temporary directory. Queries go through the HTTP API, as Grafana's would.
    """

    def __init__(self, targets: list[str], interval_s: float = 1.0,
                 rule_files: Sequence[Path] = (), host: str = "127.0.0.1",
                 start_timeout_s: float = 60.0, tls: ScrapeTls | None = None,
                 preferred_port: int | None = None,
                 bearer_token_file: Path | None = None) -> None:
        self._config = scrape_config(targets, interval_s,
                                     [Path(path).resolve() for path in rule_files], tls=tls,
                                     bearer_token_file=bearer_token_file)
        self._host = host
        self._start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._client: httpx.Client | None = None
        self._port = 0
        self._preferred_port = preferred_port

    @property
    def url(self) -> str:
        if self._process is None:
            raise PrometheusError("LocalPrometheus is not started")
        return f"http://{self._host}:{self._port}"

    @property
    def config_text(self) -> str:
        return self._config

    @property
    def workdir(self) -> Path | None:
        """The temporary directory holding the config, the log and the TSDB while running."""
        return self._workdir

    def log(self) -> str:
        """What the Prometheus process has written so far (it logs to a file in its temp dir)."""
        if self._workdir is None:
            return ""
        path = self._workdir / "prometheus.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> Self:
        """Start the process and return once ``/-/ready`` answers 200."""
        if self._process is not None:
            return self
        binary = find_binary()
        self._workdir = Path(tempfile.mkdtemp(prefix="ebb-prometheus-"))
        config_path = self._workdir / "prometheus.yml"
        config_path.write_text(self._config)
        attempt = 1
        try:
            while True:
                self._port = _free_port(self._host,
                                        self._preferred_port if attempt == 1 else None)
                self._launch(binary, config_path)
                try:
                    self._wait_ready()
                    return self
                except PrometheusStartError:
                    # A free port can be taken between probing it and Prometheus binding it.
                    if attempt == _START_ATTEMPTS or "address already in use" not in self.log():
                        raise
                self._end_process()
                attempt += 1
        except BaseException:
            self.stop()
            raise

    def _launch(self, binary: str, config_path: Path) -> None:
        assert self._workdir is not None
        storage = self._workdir / f"data-{self._port}"
        with (self._workdir / "prometheus.log").open("wb") as log:
            self._process = subprocess.Popen(
                [binary, f"--config.file={config_path}",
                 f"--storage.tsdb.path={storage}",
                 f"--web.listen-address={self._host}:{self._port}",
                 "--storage.tsdb.retention.time=1d", "--log.level=info"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self._workdir)
        self._client = httpx.Client(base_url=self.url, timeout=10.0)

    def _wait_ready(self) -> None:
        assert self._process is not None and self._client is not None
        deadline = time.monotonic() + self._start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise PrometheusStartError(
                    f"prometheus exited with status {self._process.returncode}:\n"
                    f"{self.log()[-_LOG_TAIL_CHARS:]}")
            try:
                if self._client.get("/-/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(_READY_POLL_S)
        raise PrometheusStartError(
            f"prometheus did not answer /-/ready within {self._start_timeout_s:g} s:\n"
            f"{self.log()[-_LOG_TAIL_CHARS:]}")

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query; the API's ``result`` list (empty when no series match)."""
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self._api("/api/v1/query", params)

    def query_range(self, promql: str, start: float, end: float,
                    step_s: float) -> list[dict[str, Any]]:
        """A range query, the kind a Grafana time-series panel sends."""
        return self._api("/api/v1/query_range", {
            "query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}",
            "step": f"{step_s:g}"})

    def wait_for_series(self, promql: str, timeout_s: float = 30.0,
                        poll_s: float = 0.2) -> list[dict[str, Any]]:
        """Poll until ``promql`` returns at least one series (the first scrapes take seconds)."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.query(promql)
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no series for {promql!r} within {timeout_s:g} s")
            time.sleep(poll_s)

    def rules(self) -> list[dict[str, Any]]:
        """The loaded rule groups, with each rule's health and last evaluation error."""
        client = self._require_client()
        response = client.get("/api/v1/rules")
        response.raise_for_status()
        groups: list[dict[str, Any]] = response.json()["data"]["groups"]
        return groups

    def _api(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        client = self._require_client()
        try:
            response = client.post(path, data=params)
        except httpx.HTTPError as error:
            raise PrometheusQueryError(f"{path} failed: {error}") from error
        try:
            body = response.json()
        except ValueError as error:
            raise PrometheusQueryError(
                f"{path} answered {response.status_code}: {response.text[:500]}") from error
        if body.get("status") != "success":
            raise PrometheusQueryError(
                f"{body.get('errorType', 'error')}: {body.get('error', response.text[:500])} "
                f"(query: {params.get('query')!r})")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def _require_client(self) -> httpx.Client:
        if self._client is None:
            raise PrometheusError("LocalPrometheus is not started")
        return self._client

    def stop(self, timeout_s: float = 10.0) -> None:
        """End the process (SIGTERM, then SIGKILL) and remove its temporary directory."""
        self._end_process(timeout_s)
        self._remove_workdir()

    def _end_process(self, timeout_s: float = 10.0) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _remove_workdir(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
