"""``ebb k8s``: Kubernetes tools, one subcommand each (``render``; room for more)."""

from __future__ import annotations

import argparse
from typing import Any

from ebb.kubernetes.render import command as render


def register(commands: Any) -> None:
    """Add ``k8s`` to the ``ebb`` subcommands (``commands`` is argparse's subparsers action)."""
    parser = commands.add_parser("k8s", help="Kubernetes manifests for Ebb (render)",
                                 description="Kubernetes tools: `render` writes manifests for "
                                             "`kubectl apply -k`.")
    add_arguments(parser)
    parser.set_defaults(handler=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="k8s_command", required=True, metavar="COMMAND")
    sub = actions.add_parser(
        "render", help="write manifests for kubectl apply -k",
        description="Write Kubernetes manifests for Ebb, one file per concern plus a "
                    "kustomization.yaml: the serving Deployment (or a KServe InferenceService), "
                    "its Service, PDB and ServiceAccount, the autoscaler of your choice, a "
                    "PodMonitor, alert rules and Grafana dashboards.")
    render.add_arguments(sub)
    sub.set_defaults(k8s_handler=render.run)
    from ebb.kubernetes import recommend

    sub = actions.add_parser(
        "recommend", help="pod resources for W workers from a running server's /metrics",
        description="Read a running server's /metrics twice (optionally under `ebb load`) and "
                    "print pod cpu/memory for --workers W in VPA's RecommendedContainerResources "
                    "fields (target, lowerBound, upperBound), with the workers-per-pod choice "
                    "explained.")
    recommend.add_arguments(sub)
    sub.set_defaults(k8s_handler=recommend.run)


def run(args: argparse.Namespace) -> int:
    return int(args.k8s_handler(args))
