"""``ebb controller``'s settings, checked once, and what its ``--target`` means.

``deployment/NAME`` scales that Deployment; ``inferenceservice/NAME`` scales KServe's
``NAME-predictor`` Deployment (an InferenceService has no scale subresource), whose Service is
also ``NAME-predictor``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


class SettingsError(ValueError):
    """A flag is wrong; the message is one line for a user."""


@dataclass(frozen=True, slots=True)
class Target:
    kind: str
    """``deployment`` or ``inferenceservice``."""
    name: str

    @classmethod
    def parse(cls, text: str) -> Target:
        kind, slash, name = text.partition("/")
        kind = kind.strip().lower()
        aliases = {"deployment": "deployment", "deploy": "deployment",
                   "deployments": "deployment", "inferenceservice": "inferenceservice",
                   "isvc": "inferenceservice", "inferenceservices": "inferenceservice"}
        if not slash or not name.strip() or kind not in aliases:
            raise SettingsError(f"--target {text!r}: expected deployment/NAME or "
                                "inferenceservice/NAME")
        return cls(aliases[kind], name.strip())

    @property
    def deployment(self) -> str:
        """The Deployment whose ``/scale`` is written."""
        return f"{self.name}-predictor" if self.kind == "inferenceservice" else self.name

    @property
    def default_service(self) -> str:
        return self.deployment

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class ScrapeTls:
    """How the pods' ``/metrics`` are read when they speak TLS or want an API key (the flags
    mirror what ``ebb k8s render --tls-secret/--metrics-token-secret`` mounts)."""

    ca_file: str | None = None
    """CA bundle the pods' certificates must chain to; given: scrape over https."""
    server_name: str | None = None
    """Name the certificate must carry (pods are reached by address); default
    ``SERVICE.NAMESPACE.svc``."""
    cert_file: str | None = None
    """Client certificate for pods that require one (mutual TLS), with ``key_file``."""
    key_file: str | None = None
    token_file: str | None = None
    """File holding an API key with the ``observe`` role, sent as a bearer token."""

    @property
    def https(self) -> bool:
        return self.ca_file is not None or self.cert_file is not None


@dataclass(frozen=True, slots=True)
class ControllerSettings:
    target: Target
    namespace: str
    service: str
    min_replicas: int
    max_replicas: int
    policy: str = "ebb"
    policy_options: dict[str, object] = field(default_factory=dict)
    slo_ms: float = 100.0
    scale_in_delay_s: float = 30.0
    interval_s: float = 0.5
    prometheus_url: str | None = None
    dry_run: bool = False
    workers_per_pod: int | None = None
    """None: read from the pods' ``ebb_workers`` gauge (1 until one reports)."""
    http_port: int = 8090
    http_host: str = "0.0.0.0"
    keda_port: int | None = None
    kubeconfig: str | None = None
    identity: str = "ebb-controller"
    lease_name: str = "ebb-controller"
    lease_duration_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0
    scrape_timeout_s: float = 1.0
    model: str | None = None
    """Model label for the Prometheus fallback (default: the first model a pod reported)."""
    back_off_s: float = 60.0
    """After another field manager writes ``spec.replicas``, write nothing this long."""
    pod_start_timeout_s: float = 300.0
    """Pods starting longer than this no longer hold a scale-in back."""
    scrape: ScrapeTls = field(default_factory=lambda: ScrapeTls())

    def __post_init__(self) -> None:
        if not 0 <= self.min_replicas <= self.max_replicas:
            raise SettingsError(f"need 0 <= --min-replicas <= --max-replicas, got "
                                f"{self.min_replicas} and {self.max_replicas}")
        if self.max_replicas < 1:
            raise SettingsError("--max-replicas must be at least 1")
        checks = {"--slo-ms": self.slo_ms, "--interval-s": self.interval_s,
                  "--lease-duration-s": self.lease_duration_s,
                  "--renew-deadline-s": self.renew_deadline_s,
                  "--retry-period-s": self.retry_period_s}
        for flag, value in checks.items():
            if not (value > 0 and math.isfinite(value)):
                raise SettingsError(f"{flag} must be a positive number, got {value}")
        for flag, value in (("--scale-in-delay-s", self.scale_in_delay_s),
                            ("--back-off-s", self.back_off_s),
                            ("--pod-start-timeout-s", self.pod_start_timeout_s)):
            if not (value >= 0 and math.isfinite(value)):
                raise SettingsError(f"{flag} must be a number of seconds >= 0, got {value}")
        if (self.scrape.cert_file is None) != (self.scrape.key_file is None):
            raise SettingsError("--scrape-cert-file and --scrape-key-file go together")
        if not self.retry_period_s < self.renew_deadline_s < self.lease_duration_s:
            raise SettingsError("need --retry-period-s < --renew-deadline-s < "
                                "--lease-duration-s")
        if self.workers_per_pod is not None and self.workers_per_pod < 1:
            raise SettingsError("--workers-per-pod must be at least 1")
        for flag, port in (("--http-port", self.http_port), ("--keda-external-scaler-port",
                                                             self.keda_port)):
            if port is not None and not 0 <= port <= 65535:
                raise SettingsError(f"{flag} must be a port number, got {port}")
