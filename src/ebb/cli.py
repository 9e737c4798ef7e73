"""The ``ebb`` command. Parses argv here and nowhere else, then hands validated settings on."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from ebb.config import ConfigError, ServeSettings, load_settings
from ebb.core.errors import EbbError


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
    fields = ServeSettings.model_fields
    for flag, kind in (("name", str), ("host", str), ("http_port", int), ("grpc_port", int),
                       ("workers", int), ("min_workers", int), ("max_workers", int),
                       ("slo_ms", float), ("autoscale_interval_s", float),
                       ("scale_in_delay_s", float), ("max_batch_size", int),
                       ("max_batch_delay_ms", float), ("max_queue_size", int),
                       ("request_timeout_ms", float), ("max_body_mb", float),
                       ("otlp_endpoint", str), ("otlp_interval_s", float)):
        field = fields[flag]
        default = "" if field.default is None else f" (default: {field.default})"
        serve.add_argument("--" + flag.replace("_", "-"), type=kind, default=None,
                           help=f"{field.description}{default}")
    serve.add_argument("--policy", choices=["ebb", "hpa", "keda", "kpa", "ray"], default=None,
                       help="autoscaling policy (default: ebb)")
    serve.add_argument("--policy-option", action="append", metavar="KNOB=VALUE",
                       dest="policy_options", type=_knob, default=None,
                       help="a policy knob, repeatable (e.g. container_concurrency=1)")
    serve.add_argument("--prometheus", action="store_true", default=None,
                       help="also start a local Prometheus scraping this server every second")
    serve.add_argument("--trust-pickle", action="store_true", default=None,
                       help="allow loading pickled models; only for files you trust")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                       default=None)
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


def _knob(text: str) -> tuple[str, float | int | bool | str]:
    key, separator, raw = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KNOB=VALUE")
    value: float | int | bool | str = raw
    if raw.lower() in ("true", "false"):
        value = raw.lower() == "true"
    else:
        for kind in (int, float):
            try:
                value = kind(raw)
                break
            except ValueError:
                continue
    return key.replace("-", "_"), value


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
        arguments["policy_options"] = dict(arguments["policy_options"])
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
    from ebb.runtime.loaders import resolve
    from ebb.server import EbbServer

    source = resolve(settings.model, settings.name, settings.trust_pickle)
    server = EbbServer(settings, [source])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    prometheus: Any = None
    try:
        ports = await server.start()
        for note in ports.notes:
            print(f"ebb: {note}", file=sys.stderr)
        print(banner(server, settings.host, ports.http, ports.grpc), flush=True)
        if settings.prometheus:
            prometheus = await loop.run_in_executor(None, _start_prometheus, settings.host,
                                                    ports.http)
            print(f"  Prometheus {prometheus.url} (scraping every 1 s, Ebb's rules loaded)",
                  flush=True)
        await stop.wait()
        print("ebb: shutting down: finishing accepted requests", file=sys.stderr, flush=True)
    finally:
        if prometheus is not None:
            prometheus.stop()
        await server.stop()


def _start_prometheus(host: str, http_port: int) -> Any:
    import tempfile

    from ebb.deploy.prometheus import LocalPrometheus
    from ebb.deploy.rules import export_rules

    target = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    rules = export_rules(Path(tempfile.mkdtemp(prefix="ebb-rules-")))
    prometheus = LocalPrometheus([f"{target}:{http_port}"], rule_files=[rules])
    prometheus.start()
    return prometheus


def banner(server: Any, host: str, http_port: int, grpc_port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{http_port}"
    lines = [f"Ebb {server.info.version} serving:"]
    example = ""
    for served in server.dispatcher.models.values():
        meta = served.metadata
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
                f"curl -s {base}/v2/models/{meta.name}/infer -H 'Content-Type: application/json'"
                f" -d '{{\"inputs\":[{{\"name\":\"{spec.name}\",\"datatype\":\"{spec.datatype}\","
                f"\"shape\":{shape},\"data\":[{data}]}}]}}'")
    lines += [
        f"  REST     {base}/v2   (OpenAPI: {base}/openapi.json)",
        f"  gRPC     {shown}:{grpc_port}",
        f"  metrics  {base}/metrics",
        f"  live dashboard  {base}/dashboard",
    ]
    if example:
        lines += ["Try:", f"  {example}",
                  "  python -c \"import tritonclient.http as h; "
                  f"print(h.InferenceServerClient('{shown}:{http_port}').is_server_ready())\""]
    settings = server.settings
    if settings.autoscaling:
        lines.append(f"  autoscaling: policy {settings.policy}, {settings.min_workers or 0}-"
                     f"{settings.max_workers} workers, SLO {settings.slo_ms:g} ms, every "
                     f"{settings.autoscale_interval_s:g} s")
    lines.append("Ctrl-C stops (accepted requests are answered first).")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
