"""`ebb sim`: replay a trace against scaling policies and compare them with the oracle.

    ebb sim --synthetic step --policy all --slo-ms 200 --out sim-report
    ebb sim --trace azure_llm_2023_conv.csv --speedup 20 --policy ebb --policy hpa --json
    ebb sim --synthetic step --world kubernetes --workers-per-pod 2   # pods on a cluster

`add_arguments` fills a parser (the `ebb` CLI wires it as a sub-command); `run` does the work
and returns the exit status. Parsing and validation happen here and nowhere else.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from ebb.autoscale.policies import POLICY_NAMES, parse_knob_value
from ebb.cliargs import add_deprecated
from ebb.sim.cluster import CPU_POLICY, knob_policy
from ebb.sim.compare import Comparison, compare
from ebb.sim.report import Report, headline, summary_json, table, write_report
from ebb.sim.tune import training_slice, tune
from ebb.sim.world import (
    KUBERNETES_POLICIES,
    Cluster,
    ColdStart,
    PolicySpec,
    ServiceModel,
    World,
    pin_size_unit,
    warm_start,
)
from ebb.traces import SYNTHETIC, Trace, TraceError, read_trace, scaled, synthetic

PROGRESS_MIN_REQUESTS = 200_000
"""Runs at least this long show a progress bar even when stderr is not a terminal."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `ebb sim` flags."""
    _traffic_arguments(parser.add_argument_group("traffic"))
    _policy_arguments(parser.add_argument_group("policies"))
    _world_arguments(parser.add_argument_group("world"))
    _cluster_arguments(parser.add_argument_group(
        "kubernetes world", "--world kubernetes: pods of W workers, each system's signal path "
                            "on a cluster (see docs/simulator.md)"))
    _output_arguments(parser.add_argument_group("run and output"))


def _traffic_arguments(source: argparse._ArgumentGroup) -> None:
    chosen = source.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--trace", type=Path, metavar="FILE",
                        help="timestamps (one per line, optional size column), the Azure LLM "
                             "trace CSV, or Azure Functions per-minute counts")
    chosen.add_argument("--synthetic", choices=SYNTHETIC, metavar="NAME",
                        help=f"a synthetic profile: {', '.join(SYNTHETIC)}")
    source.add_argument("--rate", type=float, default=100.0,
                        help="synthetic base rate, requests/s (default: 100)")
    source.add_argument("--duration", type=float, default=300.0,
                        help="synthetic length in seconds (default: 300)")
    source.add_argument("--speedup", type=float, default=1.0, metavar="K",
                        help="compress time by K (a trace hour in 60/K minutes)")
    source.add_argument("--rate-scale", type=float, default=1.0,
                        help="multiply the number of requests, keeping the timing")


def _policy_arguments(policy: argparse._ArgumentGroup) -> None:
    policy.add_argument("--policy", action="append",
                        choices=(*POLICY_NAMES, CPU_POLICY, "all"),
                        help="policy to compare, repeatable, or 'all' (default: all; in the "
                             f"kubernetes world: {', '.join(KUBERNETES_POLICIES)}); "
                             f"{CPU_POLICY} is the textbook HPA on CPU utilisation (kubernetes "
                             "world only)")
    policy.add_argument("--policy-option", action="append", default=[], dest="knob",
                        metavar="POLICY.KNOB=VALUE",
                        help="set a policy knob, e.g. hpa.target=2 (repeatable; as in ebb serve)")
    add_deprecated(policy, "--knob", "--policy-option", "knob", append=True)
    policy.add_argument("--ideal-signals", action="store_true",
                        help="every policy reads fresh signals at each decision (no scrape "
                             "interval or lag), to tell policy quality from pipeline lag")
    policy.add_argument("--tune", action="store_true",
                        help="grid-search each policy's main knobs on the first half and "
                             "report defaults and tuned settings on the second half")


def _world_arguments(world: argparse._ArgumentGroup) -> None:
    world.add_argument("--slo-ms", type=float, default=100.0,
                       help="latency SLO (default: 100, as ebb serve)")
    world.add_argument("--service-ms", type=float, default=20.0,
                       help="per-batch service time a, ms (default: 20)")
    world.add_argument("--per-item-ms", type=float, default=2.0,
                       help="added per request in the batch b, ms (default: 2)")
    world.add_argument("--service-cv", type=float, default=0.0,
                       help="lognormal noise on service time, coefficient of variation "
                            "(default: 0, fixed)")
    world.add_argument("--size-scaled", action="store_true",
                       help="scale b by each request's size over the mean (token traces)")
    world.add_argument("--max-batch-size", type=int, default=32, help="(default: 32)")
    add_deprecated(world, "--max-delay-ms", "--max-batch-delay-ms", "max_delay_ms", kind=float)
    world.add_argument("--max-batch-delay-ms", type=float, default=2.0, dest="max_delay_ms",
                       help="longest wait for a batch to fill (default: 2)")
    world.add_argument("--queue-bound", type=int, default=1024,
                       help="waiting requests before refusals (default: 1024)")
    world.add_argument("--cold-start-s", type=float, default=5.0,
                       help="seconds from ordering a worker to ready (default: 5)")
    world.add_argument("--cold-start-cv", type=float, default=0.0,
                       help="lognormal spread of the cold start (default: 0, fixed)")
    world.add_argument("--min-workers", type=int, default=1, help="(default: 1)")
    world.add_argument("--max-workers", type=int, default=32, help="(default: 32)")
    world.add_argument("--initial-workers", type=int, default=None,
                       help="ready workers at the start (default: enough for the trace's "
                            "first minute at 80 %% of capacity)")
    world.add_argument("--scale-in-delay-s", type=float, default=30.0,
                       help="the host's scale-in delay, as `ebb serve --scale-in-delay-s`, "
                            "for policies with that knob; Ebb's longest keep-alive "
                            "(default: 30)")


def _cluster_arguments(cluster: argparse._ArgumentGroup) -> None:
    cluster.add_argument("--world", choices=("local", "kubernetes"), default="local",
                         help="local: worker processes on one machine (default); kubernetes: "
                              "pods, scaled by the Ebb controller, HPA, KEDA, KPA or an HPA on "
                              "CPU, each through its signal path on a cluster")
    cluster.add_argument("--workers-per-pod", type=int, default=1, metavar="W",
                         help="workers in one pod; policies see pods x W workers and their "
                              "answer becomes pods, rounded up (default: 1); worker bounds "
                              "round to whole pods")
    cluster.add_argument("--pod-cold-start-s", type=float, default=20.0,
                         help="seconds from a new pod to ready: scheduling, image pull, model "
                              "load; replaces --cold-start-s, spread by --cold-start-cv "
                              "(default: 20)")
    cluster.add_argument("--controller-interval-s", type=float, default=0.5,
                         help="the Ebb controller's scrape-and-decide tick, as `ebb controller "
                              "--interval-s` (default: 0.5)")
    cluster.add_argument("--prometheus-scrape-s", type=float, default=5.0,
                         help="Prometheus scrape interval for HPA and KEDA: the rendered "
                              "PodMonitor's (default: 5; prometheus-operator's own: 30)")
    cluster.add_argument("--metrics-resolution-s", type=float, default=15.0,
                         help="metrics-server resolution for hpa-cpu (default: 15)")


def _output_arguments(run_group: argparse._ArgumentGroup) -> None:
    run_group.add_argument("--seed", type=int, default=0, help="(default: 0)")
    run_group.add_argument("--repeat", type=int, default=1,
                           help="repetitions with seeds seed..seed+N-1; spread reported")
    run_group.add_argument("--target-attainment", type=float, default=0.99,
                           help="attainment the oracle and tuning aim for (default: 0.99)")
    run_group.add_argument("--oracle-window-s", type=float, default=None,
                           help="oracle window (default: 10 x SLO, at least 1 s)")
    run_group.add_argument("--out", type=Path, metavar="DIR",
                           help="write pareto.png, timelines.png and report.html here")
    run_group.add_argument("--json", action="store_true",
                           help="print a machine-readable summary instead of the table")
    run_group.add_argument("--quiet", action="store_true", help="no progress bar")


class _Usage(ValueError):
    """A flag value that makes no sense; reported with exit status 2."""


def _knobs(items: list[str], policies: tuple[str, ...]) -> dict[str, dict[str, object]]:
    """``POLICY.KNOB=VALUE`` items, each value parsed as its knob's type (a bad one is a
    one-line `KnobError` naming the knob and what it accepts)."""
    knobs: dict[str, dict[str, object]] = {name: {} for name in policies}
    for item in items:
        target, sep, raw = item.partition("=")
        name, dot, key = target.partition(".")
        if not sep or not dot or not key:
            raise _Usage(f"--policy-option {item!r} is not POLICY.KNOB=VALUE")
        if name not in knobs:
            raise _Usage(f"--policy-option {item!r}: policy {name!r} is not being compared")
        knob = key.replace("-", "_")
        knobs[name][knob] = parse_knob_value(knob_policy(name), knob, raw)
    return knobs


def _policy_names(args: argparse.Namespace) -> tuple[str, ...]:
    """The policies asked for, 'all' meaning every one of this world's."""
    kubernetes = args.world == "kubernetes"
    every = KUBERNETES_POLICIES if kubernetes else POLICY_NAMES
    names = tuple(dict.fromkeys(every if not args.policy or "all" in args.policy
                                else args.policy))
    if CPU_POLICY in names and not kubernetes:
        raise _Usage(f"--policy {CPU_POLICY} needs --world kubernetes")
    return names


def _cluster(args: argparse.Namespace) -> Cluster | None:
    if args.world != "kubernetes":
        return None
    return Cluster(args.workers_per_pod, args.controller_interval_s,
                   prometheus_scrape_s=args.prometheus_scrape_s,
                   metrics_resolution_s=args.metrics_resolution_s)


def _world(args: argparse.Namespace) -> World:
    try:
        cluster = _cluster(args)
        per_pod = cluster.workers_per_pod if cluster else 1
        low = -(-args.min_workers // per_pod) * per_pod
        start = args.initial_workers
        if start is not None:
            start = -(-start // per_pod) * per_pod
        cold = args.pod_cold_start_s if cluster else args.cold_start_s
        return World(
            service=ServiceModel(args.service_ms / 1000, args.per_item_ms / 1000,
                                 cv=args.service_cv, size_scaled=args.size_scaled),
            cold_start=ColdStart(cold, args.cold_start_cv),
            slo_s=args.slo_ms / 1000,
            min_workers=low,
            max_workers=args.max_workers // per_pod * per_pod,
            initial_workers=start,
            max_batch_size=args.max_batch_size,
            max_delay_s=args.max_delay_ms / 1000,
            queue_bound=args.queue_bound,
            scale_in_delay_s=args.scale_in_delay_s,
            cluster=cluster,
        )
    except ValueError as exc:
        raise _Usage(str(exc)) from exc


def _trace(args: argparse.Namespace) -> Trace:
    if args.trace is not None:
        return read_trace(args.trace, speedup=args.speedup, rate_scale=args.rate_scale,
                          seed=args.seed)
    base = synthetic(args.synthetic, args.rate, args.duration, seed=args.seed)
    return scaled(base, speedup=args.speedup, rate_scale=args.rate_scale, seed=args.seed)


class _Progress:
    """A plain-text progress bar on stderr: redrawn in place on a terminal, a line per 10 %
    otherwise."""

    def __init__(self, stream: TextIO, total_runs: int) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.total = max(1, total_runs)
        self.done = 0
        self.shown = -1

    def run(self, label: str) -> Callable[[float], None]:
        index = self.done
        self.done += 1

        def update(fraction: float) -> None:
            overall = (index + fraction) / self.total
            step = int(overall * (100 if self.tty else 10))
            if step == self.shown:
                return
            self.shown = step
            if self.tty:
                bar = "#" * int(overall * 30)
                self.stream.write(f"\r[{bar:<30}] {overall * 100:5.1f}% {label:<24}")
                if overall >= 1:
                    self.stream.write("\n")
            else:
                self.stream.write(f"{overall * 100:3.0f}% {label}\n")
            self.stream.flush()
        return update

    def note(self, text: str) -> None:
        if self.tty:
            self.stream.write(f"\r{text:<70}\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    """Do what the flags say; 0 on success, 2 on bad input."""
    try:
        return _run(args)
    except (_Usage, TraceError, ValueError) as exc:
        print(f"ebb sim: error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    names = _policy_names(args)
    knobs = _knobs(args.knob, names)
    if not 0 < args.target_attainment <= 1:
        raise _Usage(f"--target-attainment must be in (0, 1], got {args.target_attainment}")
    trace = _trace(args)
    world = warm_start(pin_size_unit(_world(args), trace.sizes), trace.arrivals,
                       trace.duration_s)
    specs = tuple(PolicySpec(name, knobs[name]) for name in names)
    progress = _progress(args, len(trace), len(specs))
    started = time.perf_counter()
    report = _compare_and_tune(args, trace, world, specs, progress)
    elapsed = time.perf_counter() - started
    if args.out is not None:
        written = write_report(report, args.out)
        if progress is not None:
            progress.note(f"wrote {', '.join(str(p) for p in written)}")
    if args.json:
        print(json.dumps(summary_json(report), indent=2))
        return 0
    _print_tables(report)
    simulated = len(trace) * len(specs) * args.repeat
    print(f"\n{simulated} simulated requests in {elapsed:.1f} s "
          f"({simulated / max(elapsed, 1e-9):,.0f}/s including the oracle and reports)")
    if args.out is not None:
        print(f"report: {args.out / 'report.html'}")
    return 0


def _progress(args: argparse.Namespace, requests: int, policies: int) -> _Progress | None:
    """A progress bar on a terminal, or for long runs; none with --quiet."""
    runs = policies * args.repeat * (1 if not args.tune else 3)
    if args.quiet or not (sys.stderr.isatty() or requests * runs >= PROGRESS_MIN_REQUESTS):
        return None
    return _Progress(sys.stderr, runs + (12 * policies if args.tune else 0))


def _compare_and_tune(args: argparse.Namespace, trace: Trace, world: World,
                      specs: tuple[PolicySpec, ...], progress: _Progress | None) -> Report:
    """The comparison; with --tune, also each policy tuned on the first half and scored
    beside its defaults on the held-out second half."""

    def compared(chosen: list[PolicySpec] | tuple[PolicySpec, ...], score_from_s: float
                 ) -> Comparison:
        return compare(trace, world, chosen, seed=args.seed, ideal_signals=args.ideal_signals,
                       repeats=args.repeat, target_attainment=args.target_attainment,
                       oracle_window_s=args.oracle_window_s, score_from_s=score_from_s,
                       progress=progress.run if progress else None)

    main = compared(specs, 0.0)
    if not args.tune:
        return Report(main, specs, (), None)
    training, cut = training_slice(trace, 0.5)
    tuned = tuple(tune(training, world, spec.name, seed=args.seed,
                       ideal_signals=args.ideal_signals,
                       target_attainment=args.target_attainment,
                       on_setting=(lambda label: progress.run(label)(1.0)) if progress else None)
                  for spec in specs)
    both = [replace(spec, label=f"{spec.name} default") for spec in specs]
    both += [t.chosen for t in tuned]
    return Report(main, specs, tuned, compared(both, cut))


def _print_tables(report: Report) -> None:
    print(headline(report.main))
    print(table(report.main))
    if report.held_out is not None:
        print()
        print(headline(report.held_out))
        print(table(report.held_out))
        for t in report.tuned:
            print(f"  {t.policy} tuned: {t.setting}")
