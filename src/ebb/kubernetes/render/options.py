"""What ``ebb k8s render`` is asked for, and which combinations it refuses.

Options arrive already typed (the argv adapter parses them); :func:`problems` is the one place
that judges them, so the refusals are testable without a parser. The central rule: every scale
target has exactly one writer of its replica count (SPEC §1). Who writes, per autoscaler:

    ebb           the ``ebb controller`` Deployment (through the ``/scale`` subresource)
    keda          KEDA's HPA, fed by a prometheus trigger, or with ``--keda-external`` by the
                  controller's external scaler (the controller then only advises)
    hpa           an ``autoscaling/v2`` HPA on queue depth served by prometheus-adapter
    kserve-keda   the ScaledObject KServe itself creates (``autoscalerClass: keda``)
    none          nobody: a fixed ``spec.replicas`` (with ``--kserve``: KServe, class ``none``)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from ebb import __version__
from ebb.metrics import names

Autoscaler = Literal["ebb", "keda", "hpa", "kserve-keda", "none"]
AUTOSCALERS: tuple[str, ...] = get_args(Autoscaler)

DEFAULT_IMAGE = f"ebb:{__version__}"
DEFAULT_PROMETHEUS_URL = "http://prometheus-operated.monitoring.svc:9090"
DEFAULT_RELEASE_LABEL = "kube-prometheus-stack"
DEFAULT_KSERVE_VERSION = (0, 20)

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_URI = re.compile(r"^[a-z][a-z0-9+.-]*://")
MAX_NAME_LENGTH = 42
"""Room for the longest derived name, ``<name>-predictor-...`` and ``<name>-controller``."""
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


class RenderError(ValueError):
    """The options cannot be rendered; the message is one line for a user."""


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """Everything the manifests depend on; every field has a default that renders as is."""

    autoscaler: Autoscaler = "ebb"
    model: str | None = None
    """What ``ebb serve`` gets (None: the demo model); with ``--kserve`` a storage URI
    (``s3://...``, ``gs://...``, ``pvc://...``, ``https://...``) is downloaded to /mnt/models."""
    name: str = "demo"
    namespace: str = "default"
    image: str = DEFAULT_IMAGE
    workers: int = 1
    """Worker processes per pod; a pod's CPU request is one core per worker."""
    min_replicas: int = 1
    max_replicas: int = 10
    slo_ms: float = 100.0
    target_queue_per_pod: float | None = None
    """Queued requests per pod that KEDA and the HPA aim for (default: 2 per worker)."""
    prometheus_url: str = DEFAULT_PROMETHEUS_URL
    release_label: str = DEFAULT_RELEASE_LABEL
    """``release`` label that the Prometheus CR's podMonitorSelector/ruleSelector match
    (empty: no label)."""
    kserve: bool = False
    kserve_version: tuple[int, int] = DEFAULT_KSERVE_VERSION
    vpa: bool = False
    keda_external: bool = False
    hpa_resource_metrics: bool = False
    service_monitor: bool = False
    prestop_s: int = 5
    drain_timeout_s: int = 30
    tls_secret: str | None = None
    """A ``kubernetes.io/tls`` Secret (tls.crt, tls.key, ca.crt): REST and gRPC speak TLS."""
    metrics_token_secret: str | None = None
    """A Secret holding ``keys.toml`` (the server's API keys) and ``token`` (an observe key
    Prometheus sends as a bearer token)."""
    trust_pickle: bool = False

    @property
    def target_queue(self) -> float:
        if self.target_queue_per_pod is not None:
            return self.target_queue_per_pod
        return 2.0 * self.workers

    @property
    def storage_uri(self) -> str | None:
        """The model as a KServe storage URI, when it is one."""
        return self.model if self.model and _URI.match(self.model) else None

    @property
    def termination_grace_s(self) -> int:
        """SPEC §4.7: at least preStop + drain + 10 s; the kubelet counts from the delete."""
        return self.prestop_s + self.drain_timeout_s + 10

    @property
    def writes_replicas(self) -> bool:
        """Whether anything autoscales (then the Deployment carries no ``spec.replicas``)."""
        return self.autoscaler != "none"


def problems(options: RenderOptions) -> list[str]:
    """Every reason the options cannot be rendered, most basic first (empty: fine)."""
    return [*_value_problems(options), *_writer_problems(options), *_kserve_problems(options)]


def check(options: RenderOptions) -> RenderOptions:
    """The options, or RenderError naming the first problem."""
    found = problems(options)
    if found:
        raise RenderError(found[0])
    return options


def _value_problems(o: RenderOptions) -> list[str]:
    found = []
    for flag, value in (("--name", o.name), ("--namespace", o.namespace),
                        ("--tls-secret", o.tls_secret),
                        ("--metrics-token-secret", o.metrics_token_secret)):
        if value is not None and not _DNS_LABEL.match(value):
            found.append(f"{flag} {value!r} is not a DNS label (lower case letters, digits "
                         f"and '-', starting with a letter)")
    if len(o.name) > MAX_NAME_LENGTH:
        found.append(f"--name {o.name!r} is longer than {MAX_NAME_LENGTH} characters")
    if not o.image or any(c.isspace() for c in o.image):
        found.append(f"--image {o.image!r} is not an image reference")
    if not 1 <= o.workers <= 256:
        found.append(f"--workers must be between 1 and 256, got {o.workers}")
    if not 0 <= o.min_replicas <= o.max_replicas or o.max_replicas < 1:
        found.append(f"need 0 <= --min-replicas <= --max-replicas and --max-replicas >= 1, "
                     f"got {o.min_replicas} and {o.max_replicas}")
    if o.min_replicas == 0 and o.autoscaler in ("hpa", "none"):
        found.append(f"--autoscaler {o.autoscaler} cannot scale to zero: --min-replicas must "
                     f"be at least 1")
    if not o.slo_ms > 0 or not o.target_queue > 0:
        found.append("--slo-ms and --target-queue-per-pod must be positive")
    elif o.slo_ms < names.LATENCY_BUCKETS[0] * 1000:
        found.append(f"--slo-ms {o.slo_ms:g} is below the smallest latency bucket "
                     f"({names.LATENCY_BUCKETS[0] * 1000:g} ms)")
    if not re.match(r"^https?://[^\s/]+", o.prometheus_url):
        found.append(f"--prometheus-url {o.prometheus_url!r} is not an http(s) URL")
    if o.release_label and not re.match(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$",
                                        o.release_label):
        found.append(f"--release-label {o.release_label!r} is not a label value")
    if o.prestop_s < 0 or o.drain_timeout_s < 0:
        found.append("--prestop-s and --drain-timeout-s must not be negative")
    if o.storage_uri and not o.kserve:
        found.append(f"model {o.model!r} is a storage URI: it needs --kserve (its storage "
                     f"initializer downloads it to /mnt/models); without KServe, build an "
                     f"image with the model under /mnt/models")
    if o.model and o.model.lower().endswith(PICKLE_SUFFIXES) and not o.trust_pickle:
        found.append(f"model {o.model!r} is a pickle: loading it runs code, so say "
                     f"--trust-pickle")
    return found


def _writer_problems(o: RenderOptions) -> list[str]:
    """Combinations that give one scale target two writers, or a flag nothing would use."""
    found = []
    if o.keda_external and o.autoscaler != "keda":
        found.append(f"--keda-external makes KEDA the writer of replicas: use it with "
                     f"--autoscaler keda, not {o.autoscaler} (the controller would be a second "
                     f"writer)" if o.autoscaler == "ebb" else
                     f"--keda-external goes with --autoscaler keda, not {o.autoscaler}")
    if o.hpa_resource_metrics and o.autoscaler != "hpa":
        found.append(f"--hpa-resource-metrics adds metrics to the HPA of --autoscaler hpa; "
                     f"with {o.autoscaler} it would be a second writer of replicas")
    if o.autoscaler == "kserve-keda" and not o.kserve:
        found.append("--autoscaler kserve-keda means KServe creates the ScaledObject: it "
                     "needs --kserve (or use --autoscaler keda)")
    if o.vpa and o.hpa_resource_metrics:
        found.append("--vpa beside an HPA on CPU and memory: both would size the pods from "
                     "the same signal (a known VPA limitation); drop one")
    return found


def _kserve_problems(o: RenderOptions) -> list[str]:
    if not o.kserve:
        return []
    found = []
    version = ".".join(map(str, o.kserve_version))
    if o.kserve_version < (0, 14):
        found.append(f"KServe {version} rewrites the predictor's replicas on every change; "
                     f"Ebb needs KServe 0.14 or newer")
    elif o.autoscaler == "kserve-keda" and o.kserve_version < (0, 15):
        found.append(f"--autoscaler kserve-keda needs KServe 0.15 or newer (got {version})")
    if o.service_monitor:
        found.append("--service-monitor with --kserve: KServe creates the Service, so the "
                     "PodMonitor is rendered instead; drop --service-monitor")
    if o.tls_secret:
        found.append("--tls-secret with --kserve: KServe marks grpc ports as cleartext h2c; "
                     "terminate TLS at the gateway or mesh instead")
    return found


def default_name(model: str | None) -> str:
    """A DNS label from the model: ``resnet50.onnx`` -> ``resnet50``, ``builtin:sleep?ms=20`` ->
    ``sleep``, no model -> ``demo``."""
    if not model:
        return "demo"
    text = model.split("?", 1)[0].rstrip("/")
    text = text.rsplit(":", 1)[-1] if "://" not in text else text
    stem = text.rsplit("/", 1)[-1].split(".", 1)[0].lower()
    label = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")[:MAX_NAME_LENGTH].strip("-")
    return label if label and label[0].isalpha() else f"model-{label}".strip("-")


def parse_kserve_version(text: str) -> tuple[int, int]:
    """``0.20`` or ``v0.20.1`` -> (0, 20); RenderError otherwise."""
    match = re.match(r"^v?(\d+)\.(\d+)(\.\d+)?$", text.strip())
    if not match:
        raise RenderError(f"--kserve-version {text!r} is not MAJOR.MINOR (e.g. 0.20)")
    return int(match.group(1)), int(match.group(2))


__all__ = ["AUTOSCALERS", "Autoscaler", "RenderError", "RenderOptions", "check",
           "default_name", "parse_kserve_version", "problems"]
