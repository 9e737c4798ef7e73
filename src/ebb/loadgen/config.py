"""A load run's settings, validated once when built; the runner trusts them.

Targets are explicit: an ``http(s)://host:port`` URL and/or a gRPC ``host:port``; nothing is
discovered, and the command's default is the local server (``http://127.0.0.1:8080``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ebb.loadgen.schedule import Schedule

MAX_CONCURRENCY = 10_000
MAX_TIMEOUT_S = 600.0


class LoadConfigError(ValueError):
    """A setting is out of range or a target is malformed; the message names the value."""


def check_http_url(url: str, what: str = "URL") -> str:
    """``url`` without a trailing slash, if it is an explicit http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoadConfigError(f"{what} {url!r} must look like http://host:port")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise LoadConfigError(f"{what} {url!r} must not carry credentials, a query or a fragment")
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise LoadConfigError(f"{what} {url!r} has an invalid port") from None
    return url.rstrip("/")


def check_grpc_target(target: str) -> str:
    """``host:port`` (``[v6]:port`` for IPv6 literals)."""
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in target:
        raise LoadConfigError(f"gRPC target {target!r} must look like host:port")
    return target


@dataclass(frozen=True)
class ClientTls:
    """How to talk to a TLS server: the CA that signed it (None: the system's CAs) and, for
    mutual TLS, a client certificate and key. REST follows its URL's scheme; gRPC uses TLS
    when ``grpc`` is set."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    grpc: bool = False

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise LoadConfigError("--cert-file and --key-file go together")


@dataclass(frozen=True)
class LoadConfig:
    schedule: Schedule
    model: str
    url: str | None
    """REST base URL; also where the model's metadata is read when given."""
    grpc_target: str | None
    """When given, the load goes over gRPC to this ``host:port``."""
    metrics_url: str | None
    """The server's Prometheus endpoint, polled for queue depth and workers; None: not polled."""
    input_json: Path | None
    """A v2 infer request body to send; None: random inputs built from the model's metadata."""
    seed: int
    concurrency_limit: int
    """Most requests outstanding at once; arrivals beyond it are client-dropped."""
    timeout_s: float
    slo_s: float
    metrics_interval_s: float = 0.5
    tls: ClientTls = ClientTls()

    def __post_init__(self) -> None:
        if self.url is None and self.grpc_target is None:
            raise LoadConfigError("give a REST URL or a gRPC target")
        if self.url is not None:
            check_http_url(self.url)
        if self.grpc_target is not None:
            check_grpc_target(self.grpc_target)
        if self.metrics_url is not None:
            check_http_url(self.metrics_url, "metrics URL")
        if not self.model:
            raise LoadConfigError("a model name is needed")
        if not 1 <= self.concurrency_limit <= MAX_CONCURRENCY:
            raise LoadConfigError(f"concurrency limit {self.concurrency_limit} must be between "
                                  f"1 and {MAX_CONCURRENCY}")
        for name, value, top in (("timeout", self.timeout_s, MAX_TIMEOUT_S),
                                 ("SLO", self.slo_s, MAX_TIMEOUT_S),
                                 ("metrics interval", self.metrics_interval_s, 60.0)):
            if not (math.isfinite(value) and 0 < value <= top):
                raise LoadConfigError(f"{name} {value} s must be above 0 and at most {top} s")

    @property
    def protocol(self) -> str:
        return "grpc" if self.grpc_target is not None else "rest"
