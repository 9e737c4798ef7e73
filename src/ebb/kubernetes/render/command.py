"""``ebb k8s render``: flags in, a directory of manifests out (exit 0), or one line (exit 2)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ebb.kubernetes.render.options import (
    AUTOSCALERS,
    DEFAULT_IMAGE,
    DEFAULT_PROMETHEUS_URL,
    DEFAULT_RELEASE_LABEL,
    RenderError,
    RenderOptions,
    default_name,
    parse_kserve_version,
)

DEFAULT_OUT = Path("k8s")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = RenderOptions()
    add = parser.add_argument
    add("model", nargs="?", metavar="MODEL",
        help="what `ebb serve` serves, as the container sees it (default: the demo model); "
             "with --kserve also a storage URI (s3://, gs://, pvc://, https://)")
    add("--autoscaler", choices=AUTOSCALERS, default=defaults.autoscaler,
        help="who scales the pods (default: %(default)s, the Ebb controller)")
    add("--kserve", action="store_true", help="an InferenceService and a ClusterServingRuntime "
                                              "instead of a Deployment")
    add("--kserve-version", default="0.20", metavar="X.Y",
        help="KServe installed (default: %(default)s); below 0.16 renders RawDeployment")
    add("--name", help="name of the workload and the model (default: from MODEL)")
    add("--namespace", default=defaults.namespace, help="(default: %(default)s)")
    add("--image", default=DEFAULT_IMAGE, help="Ebb image, as `make image` tags it "
                                               "(default: %(default)s)")
    add("--workers", type=int, default=defaults.workers,
        help="worker processes per pod, one CPU each (default: %(default)s)")
    add("--min-replicas", type=int, default=defaults.min_replicas, help="(default: %(default)s)")
    add("--max-replicas", type=int, default=defaults.max_replicas, help="(default: %(default)s)")
    add("--slo-ms", type=float, default=defaults.slo_ms,
        help="latency SLO for the controller and the alert rules (default: %(default)g)")
    add("--target-queue-per-pod", type=float, metavar="N",
        help="queued requests per pod KEDA and the HPA aim for (default: 2 per worker)")
    add("--prometheus-url", default=DEFAULT_PROMETHEUS_URL, metavar="URL",
        help="Prometheus as the scalers reach it (default: %(default)s)")
    add("--release-label", default=DEFAULT_RELEASE_LABEL, metavar="L",
        help="`release` label the Prometheus CR selects monitors and rules by; '' for none "
             "(default: %(default)s)")
    add("--vpa", action="store_true", help="also a VerticalPodAutoscaler, recommendations only")
    add("--keda-external", action="store_true",
        help="with --autoscaler keda: KEDA follows the Ebb controller's external scaler")
    add("--hpa-resource-metrics", action="store_true",
        help="with --autoscaler hpa: also CPU and memory utilisation")
    add("--service-monitor", action="store_true", help="a ServiceMonitor instead of a PodMonitor")
    add("--prestop-s", type=int, default=defaults.prestop_s,
        help="`ebb serve --prestop-s`: serve on after SIGTERM (default: %(default)s)")
    add("--drain-timeout-s", type=int, default=defaults.drain_timeout_s,
        help="`ebb serve --drain-timeout-s` (default: %(default)s)")
    add("--tls-secret", metavar="NAME", help="kubernetes.io/tls Secret: REST and gRPC over TLS")
    add("--metrics-token-secret", metavar="NAME",
        help="Secret with keys.toml (API keys) and token (an observe key for Prometheus)")
    add("--trust-pickle", action="store_true", help="allow a pickled scikit-learn MODEL")
    add("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
        help="directory to write (default: %(default)s)")


def options_from(args: argparse.Namespace) -> RenderOptions:
    """RenderOptions from parsed flags (RenderError for a bad --kserve-version)."""
    return RenderOptions(
        autoscaler=args.autoscaler, model=args.model,
        name=args.name or default_name(args.model), namespace=args.namespace,
        image=args.image, workers=args.workers, min_replicas=args.min_replicas,
        max_replicas=args.max_replicas, slo_ms=args.slo_ms,
        target_queue_per_pod=args.target_queue_per_pod, prometheus_url=args.prometheus_url,
        release_label=args.release_label, kserve=args.kserve,
        kserve_version=parse_kserve_version(args.kserve_version), vpa=args.vpa,
        keda_external=args.keda_external, hpa_resource_metrics=args.hpa_resource_metrics,
        service_monitor=args.service_monitor, prestop_s=args.prestop_s,
        drain_timeout_s=args.drain_timeout_s, tls_secret=args.tls_secret,
        metrics_token_secret=args.metrics_token_secret, trust_pickle=args.trust_pickle)


def run(args: argparse.Namespace) -> int:
    from ebb.kubernetes.render.bundle import render
    from ebb.kubernetes.render.write import write_bundle

    try:
        files = render(options_from(args))
    except RenderError as error:
        print(f"ebb: {error}", file=sys.stderr)
        return 2
    try:
        paths = write_bundle(args.out, files)
    except OSError as error:
        print(f"ebb: cannot write manifests: {error}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    print(f"Apply with: kubectl apply -k {args.out}", file=sys.stderr)
    return 0
