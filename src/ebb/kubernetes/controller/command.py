"""``ebb controller``: flags, one-line errors, and the run until SIGTERM.

    ebb controller --target deployment/m --min-replicas 1 --max-replicas 10 --slo-ms 200
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from typing import Any

from ebb.autoscale.policies.registry import DEFAULT_POLICY, POLICY_NAMES, KnobError, parse_knob
from ebb.kubernetes.controller.api import ApiError
from ebb.kubernetes.controller.settings import (
    ControllerSettings,
    ScrapeTls,
    SettingsError,
    Target,
)


def register(commands: Any) -> None:
    """Add ``controller`` to the CLI's subcommands (``commands``: argparse's subparsers)."""
    parser = commands.add_parser(
        "controller", help="scale a Kubernetes workload's pods on queue depth",
        description="Scrape the pods behind a Service every tick, run a scaling policy and "
                    "write the Deployment's /scale (leader-elected; advises only beside an HPA).")
    add_arguments(parser)
    parser.set_defaults(handler=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--target", required=True, help="deployment/NAME or inferenceservice/NAME (KServe: "
        "scales NAME-predictor; needs autoscalerClass: external)")
    add("--service", help="Service whose EndpointSlices list the pods (default: the Deployment "
        "name, NAME-predictor for an InferenceService)")
    add("--namespace", help="namespace (default: the pod's own, else the kubeconfig's, else "
        "default)")
    add("--kubeconfig", help="kubeconfig file (default: in-cluster, then $KUBECONFIG, then "
        "~/.kube/config)")
    add("--min-replicas", type=int, required=True, help="fewest pods")
    add("--max-replicas", type=int, required=True, help="most pods")
    add("--policy", default=DEFAULT_POLICY, choices=POLICY_NAMES, help="scaling policy")
    add("--policy-option", action="append", default=[], metavar="KNOB=VALUE",
        help="a knob of the policy (repeatable)")
    add("--slo-ms", type=float, default=100.0, help="latency objective the policy keeps")
    add("--scale-in-delay-s", type=float, default=30.0, help="demand must stay low this long "
        "before pods are removed")
    add("--interval-s", type=float, default=0.5, help="seconds between ticks")
    add("--prometheus-url", help="Prometheus to read when no pod's /metrics answers")
    add("--model", help="model label for the Prometheus fallback (default: the pods' first)")
    add("--dry-run", action="store_true", help="decide and log; write nothing")
    add("--workers-per-pod", type=int, help="workers in each pod (default: from the pods' "
        "ebb_workers gauge)")
    add("--http-port", type=int, default=8090, help="port of /metrics and /healthz")
    add("--http-host", default="0.0.0.0", help="address of /metrics, /healthz and the KEDA "
        "scaler")
    add("--keda-external-scaler-port", type=int, help="serve KEDA's external scaler gRPC "
        "service on this port (ScaledObject trigger type external-push)")
    add("--identity", help="this replica's name in the Lease (default: $POD_NAME, else the "
        "host name and process id)")
    add("--lease-name", default="ebb-controller", help="the Lease for leader election")
    add("--back-off-s", type=float, default=60.0, help="after another field manager (kubectl "
        "scale, a GitOps tool) writes spec.replicas, write nothing this long (0: never)")
    add("--pod-start-timeout-s", type=float, default=300.0, help="no scale-in while pods are "
        "starting, unless they have been starting this long (stuck Pending, crash-looping)")
    scrape = parser.add_argument_group("scraping pods that use TLS or API keys")
    scrape.add_argument("--scrape-ca-file", metavar="FILE", help="CA of the pods' "
                        "certificates: scrape https (the tls Secret's ca.crt)")
    scrape.add_argument("--scrape-server-name", metavar="NAME", help="name the pods' "
                        "certificate carries (default: SERVICE.NAMESPACE.svc)")
    scrape.add_argument("--scrape-cert-file", metavar="FILE", help="client certificate, for "
                        "pods that require one (with --scrape-key-file)")
    scrape.add_argument("--scrape-key-file", metavar="FILE", help="its private key")
    scrape.add_argument("--scrape-bearer-token-file", metavar="FILE", help="API key with the "
                        "observe role, sent as a bearer token (re-read when the file changes)")
    add("--lease-duration-s", type=float, default=15.0, help=argparse.SUPPRESS)
    add("--renew-deadline-s", type=float, default=10.0, help=argparse.SUPPRESS)
    add("--retry-period-s", type=float, default=2.0, help=argparse.SUPPRESS)
    add("--log-level", default="info", choices=("debug", "info", "warning", "error"))


def _namespace(given: str | None) -> str:
    if given:
        return given
    path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    if os.path.exists(path):
        with open(path) as handle:
            return handle.read().strip() or "default"
    return os.environ.get("POD_NAMESPACE", "default")


def settings_from(args: argparse.Namespace) -> ControllerSettings:
    """The flags as settings; ``SettingsError`` or ``KnobError`` with one line."""
    target = Target.parse(args.target)
    knobs = dict(parse_knob(args.policy, text) for text in args.policy_option)
    identity = (args.identity or os.environ.get("POD_NAME")
                or f"{socket.gethostname()}-{os.getpid()}")
    return ControllerSettings(
        target=target, namespace=_namespace(args.namespace),
        service=args.service or target.default_service, min_replicas=args.min_replicas,
        max_replicas=args.max_replicas, policy=args.policy, policy_options=knobs,
        slo_ms=args.slo_ms, scale_in_delay_s=args.scale_in_delay_s, interval_s=args.interval_s,
        prometheus_url=args.prometheus_url, dry_run=args.dry_run,
        workers_per_pod=args.workers_per_pod, http_port=args.http_port,
        http_host=args.http_host, keda_port=args.keda_external_scaler_port,
        kubeconfig=args.kubeconfig, identity=identity, lease_name=args.lease_name,
        lease_duration_s=args.lease_duration_s, renew_deadline_s=args.renew_deadline_s,
        retry_period_s=args.retry_period_s, model=args.model, back_off_s=args.back_off_s,
        pod_start_timeout_s=args.pod_start_timeout_s,
        scrape=ScrapeTls(args.scrape_ca_file, args.scrape_server_name, args.scrape_cert_file,
                         args.scrape_key_file, args.scrape_bearer_token_file))


def run(args: argparse.Namespace) -> int:
    """The ``ebb controller`` entry point: 2 for bad flags, 1 when it cannot start."""
    try:
        settings = settings_from(args)
    except (SettingsError, KnobError) as error:
        print(f"ebb controller: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "httpcore"):  # one line per scrape, twice a second per pod
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.root.level))
    try:
        asyncio.run(_main(settings))
    except (ApiError, OSError) as error:
        print(f"ebb controller: {error}", file=sys.stderr)
        return 1
    return 0


async def _main(settings: ControllerSettings) -> None:
    from ebb.kubernetes.client import OfficialKubeApi, load_api_client
    from ebb.kubernetes.controller.app import ControllerApp

    api = OfficialKubeApi(load_api_client(settings.kubeconfig))
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    app = ControllerApp(settings, api)
    await app.run(stopping, announce=_announce)


def _announce(line: str) -> None:
    print(line, flush=True)
