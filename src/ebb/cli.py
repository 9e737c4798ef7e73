"""The ``ebb`` command. Parses argv here and nowhere else, then hands validated settings on."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

from ebb import __version__
from ebb.autoscale.policies.registry import POLICY_NAMES
from ebb.banner import banner
from ebb.cliargs import EbbParser, split_policy_option
from ebb.config import ConfigError, ServeSettings, ignored_settings, load_settings
from ebb.core.errors import EbbError

log = logging.getLogger("ebb.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = EbbParser(
        prog="ebb", description="Serve models over the Open Inference Protocol and scale them "
                                "on inference queue depth.")
    parser.add_argument("--version", action="version", version=f"ebb {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve", help="serve a model (the demo model when none is given)",
        description="Serve a model over REST and gRPC. MODEL is an .onnx file, a scikit-learn "
                    ".joblib/.pkl (with --trust-pickle), a TorchScript .pt, module:Class "
                    "(imported with the current directory on the path, as python -m does), "
                    "builtin:double or builtin:sleep?ms=20&per_item_ms=0.05. Every flag can "
                    "also be set as EBB_<FLAG> in the environment or in --config.")
    serve.add_argument("model_specs", nargs="*", metavar="MODEL",
                       help="what to serve: a model, several, or a model "
                       "repository directory (docs/repository.md); default: the demo model")
    add_settings_flags(serve, ServeSettings, skip=("model", "models", "policy_options"))
    serve.add_argument("--policy-option", action="append", metavar="[POLICY.]KNOB=VALUE",
                       dest="policy_options", default=None,
                       help="a policy knob, repeatable (e.g. container_concurrency=1, or "
                            "kpa.container_concurrency=1 as in ebb sim); checked against the "
                            "policy's knobs")
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
    command line leaves out; the help shows the model's default, or says what unset means.
    """
    for name, field in settings.model_fields.items():
        if name in skip:
            continue
        kind: Any = field.annotation
        options = [arg for arg in get_args(kind) if arg is not type(None)]
        if len(options) == 1:
            kind = options[0]
        flag = "--" + name.replace("_", "-")
        text = _help_text(field.description or name, field.default)
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


def _help_text(description: str, default: object) -> str:
    if "(default" in description or "default:" in description:
        return description.replace("%", "%%")
    shown = "unset" if default is None else default
    return f"{description} (default: {shown})".replace("%", "%%")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(vars(args))
    handler: Any = args.handler
    return int(handler(args))


def _policy_options(items: list[str]) -> dict[str, str]:
    """``[POLICY.]KNOB=VALUE`` items as raw values (settings check the policy and the type)."""
    knobs: dict[str, str] = {}
    for item in items:
        named, knob, raw = split_policy_option(item)
        knobs[knob if named is None else f"{named}.{knob}"] = raw
    return knobs


def _serve(arguments: dict[str, Any]) -> int:
    config_file = arguments.pop("config")
    arguments.pop("command")
    given = arguments.pop("model_specs") or []
    arguments["model"] = given[0] if len(given) == 1 else None
    arguments["models"] = given if len(given) > 1 else None
    if arguments.get("policy_options") is not None:
        try:
            arguments["policy_options"] = _policy_options(arguments["policy_options"])
        except ValueError as error:
            print(f"ebb: invalid --policy-option: {error}", file=sys.stderr)
            return 2
    try:
        settings = load_settings(arguments, config_file)
    except ConfigError as error:
        print(f"ebb: {error}", file=sys.stderr)
        return 2
    from ebb.app.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    for warning in ignored_settings(settings):
        log.warning("%s", warning)
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
    from ebb.deploy.local import ServePrometheus
    from ebb.repository.catalog import serve_catalog

    server = EbbServer(settings, [], MonotonicClock(), catalog=serve_catalog(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        server.shutdown.begin()  # readiness off at once; a second signal skips the pause
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    prometheus = ServePrometheus(  # with API keys, it scrapes with an in-memory observe key
        settings, server.security.grant_local_observer() if settings.prometheus else None)
    try:
        ports = await server.start()
        for note in ports.notes:
            _note(settings, note)
        extra = await loop.run_in_executor(None, prometheus.start, ports.http)
        print(banner(server.info.version, server.metadata, settings, ports.http, ports.grpc,
                     extra), flush=True)
        await stop.wait()
        _note(settings, f"shutting down: {server.shutdown.describe()}")
    finally:
        prometheus.stop()
        await server.stop()


def _note(settings: ServeSettings, text: str) -> None:
    """A line for the person at the terminal on stderr; a log record with ``--log-format
    json``, so that a log shipper reads nothing but JSON there."""
    if settings.log_format == "json":
        log.warning("%s", text)
    else:
        print(f"ebb: {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
