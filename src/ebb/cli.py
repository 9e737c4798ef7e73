"""The ``ebb`` command. Parses argv here and nowhere else, then hands validated settings on."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

from ebb.autoscale.policies.registry import POLICY_NAMES
from ebb.config import ConfigError, ServeSettings, load_settings
from ebb.core.errors import EbbError
from ebb.core.types import ModelMetadata


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ebb", description="Serve models over the Open Inference Protocol and scale them "
                                "on inference queue depth.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve", help="serve a model (the demo model when none is given)",
        description="Serve a model over REST and gRPC. MODEL is an .onnx file, a scikit-learn "
                    ".joblib/.pkl (with --trust-pickle), a TorchScript .pt, module:Class, "
                    "builtin:double or builtin:sleep?ms=20&per_item_ms=0.05. Every flag can "
                    "also be set as EBB_<FLAG> in the environment or in --config.")
    serve.add_argument("model", nargs="?", help="what to serve (default: the demo model)")
    add_settings_flags(serve, ServeSettings, skip=("model", "policy_options"))
    serve.add_argument("--policy-option", action="append", metavar="KNOB=VALUE",
                       dest="policy_options", default=None,
                       help="a policy knob, repeatable (e.g. container_concurrency=1); "
                            "checked against the policy's knobs")
    serve.add_argument("--config", type=Path, help="TOML or YAML file of settings")
    _add_tool_commands(commands)
    return parser


def _add_tool_commands(commands: Any) -> None:
    """Commands that live in their own packages, each with ``add_arguments`` and ``run``."""
    from ebb.loadgen import command as load

    parser = commands.add_parser(
        "load", help="open-loop load against an Open Inference Protocol endpoint",
        description="Send requests on a schedule whatever the answers do (open loop), so "
                    "overload shows honestly; report latency, SLO attainment, a CSV timeline "
                    "and a plot, reading the server's /metrics while it runs.")
    load.add_arguments(parser)
    parser.set_defaults(handler=load.run)

    from ebb.sim import command as sim

    parser = commands.add_parser(
        "sim", help="replay traffic through every scaling policy on a virtual clock",
        description="Replay a trace (or a synthetic profile) through the production scaling "
                    "policies and batching rule on a virtual clock; compare SLO attainment and "
                    "cost against an oracle, with Pareto and timeline plots and an HTML report.")
    sim.add_arguments(parser)
    parser.set_defaults(handler=sim.run)

    from ebb.deploy import commands as deploy

    parser = commands.add_parser("dashboards", help="export the Grafana dashboards")
    deploy.add_dashboards_arguments(parser)
    parser.set_defaults(handler=deploy.run_dashboards)
    parser = commands.add_parser("rules", help="export the Prometheus recording and alert rules")
    deploy.add_rules_arguments(parser)
    parser.set_defaults(handler=deploy.run_rules)
    parser = commands.add_parser("prometheus-config",
                                 help="print a Prometheus config that scrapes Ebb servers")
    deploy.add_prometheus_config_arguments(parser)
    parser.set_defaults(handler=deploy.run_prometheus_config)

    from ebb.inference_log import command as inference_log

    parser = commands.add_parser(
        "log", help="query or export the inference log (--inference-log)",
        description="Read the requests a server recorded with --inference-log: query prints "
                    "them, export writes Parquet or CSV.")
    inference_log.add_arguments(parser)
    parser.set_defaults(handler=inference_log.run)

    from ebb.security import command as keys

    parser = commands.add_parser("keys", help="create, list and revoke API keys",
                                 description="Manage the API keys file that `ebb serve "
                                             "--auth-keys-file` reads (and re-reads on change).")
    keys.add_arguments(parser)
    parser.set_defaults(handler=keys.run)

    from ebb.kubernetes.controller import command as controller

    controller.register(commands)

    from ebb.kubernetes import command as k8s

    k8s.register(commands)


def add_settings_flags(parser: argparse.ArgumentParser, settings: type[BaseModel],
                       skip: tuple[str, ...]) -> None:
    """One flag per settings field, named, typed, described and defaulted by the model itself.

    Flags default to None (unset), so that the environment and config file can fill what the
    command line leaves out; the help shows the model's default.
    """
    for name, field in settings.model_fields.items():
        if name in skip:
            continue
        kind: Any = field.annotation
        options = [arg for arg in get_args(kind) if arg is not type(None)]
        if len(options) == 1:
            kind = options[0]
        shown = "" if field.default is None else f" (default: {field.default})"
        flag = "--" + name.replace("_", "-")
        text = f"{field.description or name}{shown}"
        if kind is bool:
            parser.add_argument(flag, action="store_true", default=None, help=text)
        elif get_origin(kind) is Literal:
            parser.add_argument(flag, choices=get_args(kind), default=None, help=text)
        elif get_origin(field.annotation) is list:
            parser.add_argument(flag, action="append", default=None, help=field.description)
        elif name == "policy":
            parser.add_argument(flag, choices=POLICY_NAMES, default=None, help=text)
        else:
            parser.add_argument(flag, type=kind, default=None, help=text)


def _split_knob(text: str) -> tuple[str, str]:
    key, separator, raw = text.partition("=")
    if not separator or not key.strip():
        raise ValueError(f"{text!r} is not KNOB=VALUE")
    return key.strip().replace("-", "_"), raw


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(vars(args))
    handler: Any = args.handler
    return int(handler(args))


def _serve(arguments: dict[str, Any]) -> int:
    config_file = arguments.pop("config")
    arguments.pop("command")
    if arguments.get("policy_options") is not None:
        try:
            arguments["policy_options"] = dict(_split_knob(item)
                                               for item in arguments["policy_options"])
        except ValueError as error:
            print(f"ebb: invalid --policy-option: {error}", file=sys.stderr)
            return 2
    try:
        settings = load_settings(arguments, config_file)
    except ConfigError as error:
        print(f"ebb: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(_run_server(settings))
    except (EbbError, OSError, TimeoutError, RuntimeError, ValueError) as error:
        print(f"ebb: {error}", file=sys.stderr)
        return 1
    return 0


async def _run_server(settings: ServeSettings) -> None:
    from ebb.app import EbbServer
    from ebb.core.clock import MonotonicClock
    from ebb.runtime.loaders import resolve

    source = resolve(settings.model, settings.name, settings.trust_pickle)
    server = EbbServer(settings, [source], MonotonicClock())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        server.shutdown.begin()  # readiness off at once; a second signal skips the pause
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    prometheus: Any = None
    try:
        ports = await server.start()
        for note in ports.notes:
            print(f"ebb: {note}", file=sys.stderr)
        print(banner(server.info.version, server.metadata, settings, ports.http, ports.grpc),
              flush=True)
        if settings.prometheus and settings.tls_client_ca_file:
            print("ebb: --prometheus not started: this server requires client certificates "
                  "(see `ebb prometheus-config --scheme https`)", file=sys.stderr)
        elif settings.prometheus:
            prometheus = await loop.run_in_executor(None, _start_prometheus, settings.host,
                                                    ports.http, settings.tls_cert_file is not None)
            print(f"  Prometheus {prometheus.url} (scraping every 1 s, Ebb's rules loaded)",
                  flush=True)
        await stop.wait()
        print(f"ebb: shutting down: {server.shutdown.describe()}", file=sys.stderr, flush=True)
    finally:
        if prometheus is not None:
            prometheus.stop()
        await server.stop()


def _start_prometheus(host: str, http_port: int, tls: bool) -> Any:
    """With TLS the local Prometheus scrapes https without verifying: it is this process on
    the same machine, and its CA may not be among the files it was given."""
    import tempfile

    from ebb.deploy.prometheus import LocalPrometheus, ScrapeTls
    from ebb.deploy.rules import export_rules

    target = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    rules = export_rules(Path(tempfile.mkdtemp(prefix="ebb-rules-")))
    prometheus = LocalPrometheus([f"{target}:{http_port}"], rule_files=[rules],
                                 tls=ScrapeTls(insecure_skip_verify=True) if tls else None)
    prometheus.start()
    return prometheus


def banner(version: str, models: Sequence[ModelMetadata], settings: ServeSettings,
           http_port: int, grpc_port: int) -> str:
    """What a user needs after start-up: the models, the URLs, a request to paste."""
    host = settings.host
    shown = f"[{host}]" if ":" in host else host
    base = f"{'https' if settings.tls_cert_file else 'http'}://{shown}:{http_port}"
    lines = [f"Ebb {version} serving:"]
    example = ""
    for meta in models:
        spec = meta.inputs[0]
        shape = [1 if dim == -1 else dim for dim in spec.shape]
        inputs = ", ".join(f"{s.name} {s.datatype}{list(s.shape)}" for s in meta.inputs)
        outputs = ", ".join(f"{s.name} {s.datatype}{list(s.shape)}" for s in meta.outputs)
        lines.append(f"  model {meta.name} v{meta.version} ({meta.platform}): "
                     f"{inputs} -> {outputs}")
        if not example and spec.datatype.startswith(("FP", "INT", "UINT")):
            count = 1
            for dim in shape:
                count *= dim
            data = ",".join(["0.5"] * count)
            example = (
                f"curl -s{_curl_tls(settings)} {base}/v2/models/{meta.name}/infer "
                "-H 'Content-Type: application/json'"
                f" -d '{{\"inputs\":[{{\"name\":\"{spec.name}\",\"datatype\":\"{spec.datatype}\","
                f"\"shape\":{shape},\"data\":[{data}]}}]}}'")
    lines += [
        f"  REST     {base}/v2   (OpenAPI: {base}/openapi.json)",
        f"  gRPC     {shown}:{grpc_port}{' (TLS)' if settings.tls_cert_file else ''}",
        f"  metrics  {base}/metrics",
        f"  live dashboard  {base}/dashboard",
    ]
    if settings.tls_client_ca_file:
        lines.append("  TLS: clients must present a certificate signed by "
                     f"{settings.tls_client_ca_file}")
    if example:
        lines += ["Try:", f"  {example}"]
    if example and not settings.tls_cert_file:
        lines.append("  python -c \"import tritonclient.http as h; "
                     f"print(h.InferenceServerClient('{shown}:{http_port}').is_server_ready())\"")
    if settings.autoscaling:
        lines.append(f"  autoscaling: policy {settings.policy}, {settings.min_workers or 0}-"
                     f"{settings.max_workers} workers, SLO {settings.slo_ms:g} ms, every "
                     f"{settings.autoscale_interval_s:g} s")
    lines.append("Ctrl-C stops (accepted requests are answered first).")
    return "\n".join(lines)


def _curl_tls(settings: ServeSettings) -> str:
    if not settings.tls_cert_file:
        return ""
    client = " --cert CLIENT.crt --key CLIENT.key" if settings.tls_client_ca_file else ""
    return f" --cacert CA.pem{client}"


if __name__ == "__main__":
    sys.exit(main())
