"""``ebb dashboards``, ``ebb rules`` and ``ebb prometheus-config``: argv in, files or text out.

Each command is a pair the ``ebb`` parser wires in: ``add_*_arguments(parser)`` and
``run_*(args) -> int`` (0 done, 1 could not write, 2 invalid flags). Importing this module is
cheap: the Grafana SDK is imported only when dashboards are exported.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ebb.deploy.prometheus import ScrapeTls, scrape_config

DEFAULT_DASHBOARDS_DIR = Path("grafana")
DEFAULT_RULES_DIR = Path("prometheus")
DEFAULT_TARGET = "127.0.0.1:8080"


def add_dashboards_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["export"],
                        help="export: write the Grafana dashboards as JSON files")
    parser.add_argument("--out", type=Path, default=DEFAULT_DASHBOARDS_DIR, metavar="DIR",
                        help=f"directory to write into (default: {DEFAULT_DASHBOARDS_DIR})")


def run_dashboards(args: argparse.Namespace) -> int:
    from ebb.deploy.dashboards import export_dashboards

    try:
        paths = export_dashboards(args.out)
    except OSError as error:
        print(f"ebb: cannot write dashboards: {error}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    print("Import them in Grafana (Dashboards > New > Import) and pick a Prometheus data "
          "source.", file=sys.stderr)
    return 0


def add_rules_arguments(parser: argparse.ArgumentParser) -> None:
    from ebb.deploy.rules import DEFAULT_RUNBOOK_URL, RuleSettings

    defaults = RuleSettings()
    parser.add_argument("action", choices=["export"],
                        help="export: write the Prometheus recording and alerting rules")
    parser.add_argument("--out", type=Path, default=DEFAULT_RULES_DIR, metavar="DIR",
                        help=f"directory to write into (default: {DEFAULT_RULES_DIR})")
    parser.add_argument("--slo-ms", type=float, default=defaults.slo_s * 1000, metavar="MS",
                        help="latency SLO: requests answered within it are good; rounded down "
                             "to a histogram bucket (default: %(default)g)")
    parser.add_argument("--slo-target", type=float, default=defaults.slo_target,
                        metavar="FRACTION",
                        help="share of requests that must be good (default: %(default)g)")
    parser.add_argument("--runbook-url", default=DEFAULT_RUNBOOK_URL, metavar="URL",
                        help="where docs/alerts.md is published; each alert links "
                             "URL#<alert name> (default: %(default)s)")


def run_rules(args: argparse.Namespace) -> int:
    from ebb.deploy.rules import RuleSettings, export_rules, slo_bucket

    slo_s = args.slo_ms / 1000
    try:
        settings = RuleSettings(slo_s=slo_s, slo_target=args.slo_target,
                                runbook_url=args.runbook_url)
    except ValueError as error:
        print(f"ebb: {error}", file=sys.stderr)
        return 2
    bucket = slo_bucket(slo_s)
    if bucket < slo_s * (1 - 1e-9):
        print(f"ebb: note: requests count as good below {bucket * 1000:g} ms, the latency "
              f"bucket at or below {args.slo_ms:g} ms", file=sys.stderr)
    try:
        path = export_rules(args.out, settings)
    except OSError as error:
        print(f"ebb: cannot write rules: {error}", file=sys.stderr)
        return 1
    print(path)
    return 0


def add_prometheus_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", action="append", dest="targets", metavar="HOST:PORT",
                        help="an Ebb server's HTTP address, repeatable "
                             f"(default: {DEFAULT_TARGET})")
    parser.add_argument("--interval-s", type=float, default=1.0, metavar="S",
                        help="scrape and rule evaluation interval (default: %(default)g)")
    parser.add_argument("--rules", action="append", dest="rule_files", type=Path,
                        metavar="FILE", help="a rule file to load (from `ebb rules export`), "
                                             "repeatable")
    parser.add_argument("--bearer-token-file", type=Path, metavar="PATH",
                        help="file holding an API key with the observe role, for servers "
                             "started with --auth-keys-file (as Prometheus sees the path)")
    tls = parser.add_argument_group("TLS (servers started with --tls-cert-file)")
    tls.add_argument("--scheme", choices=("http", "https"), default="http",
                     help="how to reach /metrics (default: %(default)s)")
    tls.add_argument("--ca-file", type=Path, metavar="PATH",
                     help="CA that signed the servers' certificates, as Prometheus sees the path")
    tls.add_argument("--cert-file", type=Path, metavar="PATH",
                     help="client certificate, for servers with --tls-client-ca-file")
    tls.add_argument("--key-file", type=Path, metavar="PATH", help="key of --cert-file")
    tls.add_argument("--insecure-skip-verify", action="store_true",
                     help="do not verify the servers' certificates (testing only)")


def run_prometheus_config(args: argparse.Namespace) -> int:
    targets = args.targets or [DEFAULT_TARGET]
    for target in targets:
        host, separator, port = target.rpartition(":")
        if not separator or not host or not port.isdigit():
            print(f"ebb: --target {target!r} is not HOST:PORT", file=sys.stderr)
            return 2
    try:
        text = scrape_config(targets, args.interval_s, args.rule_files or (),
                             tls=_scrape_tls(args), bearer_token_file=args.bearer_token_file)
    except ValueError as error:
        print(f"ebb: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def _scrape_tls(args: argparse.Namespace) -> ScrapeTls | None:
    """None for http; ValueError for TLS flags given with --scheme http."""
    given = [flag for flag, value in (("--ca-file", args.ca_file), ("--cert-file", args.cert_file),
                                      ("--key-file", args.key_file),
                                      ("--insecure-skip-verify", args.insecure_skip_verify))
             if value]
    if args.scheme == "http":
        if given:
            raise ValueError(f"{', '.join(given)} needs --scheme https")
        return None
    if (args.cert_file is None) != (args.key_file is None):
        raise ValueError("--cert-file and --key-file go together")
    return ScrapeTls(args.ca_file, args.cert_file, args.key_file, args.insecure_skip_verify)
