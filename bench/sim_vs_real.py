"""Simulator against reality: the same arrivals through a real `ebb serve` that autoscales and
through `ebb sim`, and how far apart the two come out (issue 4's validation; target: within
10 % on p99 latency and on worker-seconds).

For each scenario and policy:

1. The arrivals are drawn once and written to a timestamps file, so the load generator and the
   simulator replay the very same requests. ``step``: 25 -> 300 req/s at 10 s, 40 s in all.
   ``azure``: the Azure LLM conversation trace (Azure Public Dataset, CC-BY 4.0; Patel et al.,
   "Splitwise", ISCA 2024) compressed 30x, its first 120 s.
2. Real: ``ebb serve 'builtin:sleep?ms=20&load_ms=2000'`` (20 ms per request, batching off, a
   worker takes 2 s to load its model) with the policy, its in-process signals and the
   controller's default 0.5 s interval, 1 to 10 workers, a 15 s scale-in delay; the load starts
   once the first worker is ready. ``ebb load`` sends the arrivals open loop. Server on core 0,
   load generator on core 1, traffic to 127.0.0.1 only.
3. Measured from the server's own /metrics after the run and handed to the simulator: the mean
   time a worker took per batch (service time), the mean worker start (cold start), and the
   path time the simulator does not model -- the client's mean latency minus the server's mean
   queue wait and mean batch time (HTTP, gateway, hand-off to the worker) -- added to every
   simulated latency.
4. Simulated: the same policy and knobs, the same bounds, one ready worker at t = 0, signals
   fresh every 0.5 s, seed 0.

Writes a markdown report and one timeline plot per scenario to bench/results/sim-vs-real-*/::

    python bench/sim_vs_real.py                          # ebb and kpa on both, ~8 minutes
    python bench/sim_vs_real.py --scenario step --policies ebb
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np
from autoscale import RESULTS, TRACE, Run, run_policy, worker_seconds

from ebb.sim import ColdStart, Pipeline, PolicySpec, ServiceModel, World, simulate, summarise
from ebb.sim import Run as SimRun
from ebb.traces import Trace, read_trace, step, window

SLO_MS = 200.0
SERVICE_MS = 20.0
LOAD_MS = 2000.0
MIN_WORKERS, MAX_WORKERS = 1, 10
SCALE_IN_DELAY_S = 15.0
INTERVAL_S = 0.5
TARGET = 0.10
KNOBS: dict[str, dict[str, object]] = {"ebb": {"scale_in_delay_s": SCALE_IN_DELAY_S},
                                       "kpa": {"container_concurrency": 1}, "hpa": {},
                                       "keda": {}, "ray": {}}
"""The same knobs the live server gets: `ebb serve` passes its scale-in delay to Ebb's policy,
and KPA gets containerConcurrency=1 as bench/autoscale.py gives it (one request per worker)."""


@dataclass(frozen=True)
class Measured:
    service_s: float
    cold_start_s: float
    path_s: float


@dataclass(frozen=True)
class Pair:
    policy: str
    arrivals: np.ndarray
    real: Run
    measured: Measured
    sim: SimRun
    sim_summary: dict[str, float]
    real_summary: dict[str, float]


def scenario_trace(name: str, seconds: float) -> Trace:
    if name == "step":
        return step(25, 300, 10.0, 40.0, seed=1)
    return window(read_trace(TRACE, speedup=30.0), 0.0, seconds)


def write_arrivals(trace: Trace, path: Path) -> None:
    path.write_text("".join(f"{t:.6f}\n" for t in trace.arrivals))


def _metric(text: str, name: str) -> float:
    total = 0.0
    found = False
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else math.nan


def _mean(text: str, histogram: str) -> float:
    count = _metric(text, f"{histogram}_count")
    return _metric(text, f"{histogram}_sum") / count if count else math.nan


def measure(run: Run) -> Measured:
    text = run.final_metrics
    service = _mean(text, "ebb_inference_duration_seconds")
    queue_wait = _mean(text, "ebb_queue_wait_seconds")
    cold = _mean(text, "ebb_worker_start_seconds")
    client_mean = float(run.summary["mean_s"])  # type: ignore[arg-type]
    return Measured(service, cold, max(0.0, client_mean - queue_wait - service))


def simulate_like(trace: Trace, policy: str, measured: Measured) -> SimRun:
    world = World(ServiceModel(measured.service_s, 0.0), ColdStart(measured.cold_start_s),
                  slo_s=SLO_MS / 1000, min_workers=MIN_WORKERS, max_workers=MAX_WORKERS,
                  initial_workers=MIN_WORKERS, max_batch_size=1, queue_bound=4096)
    pipeline = Pipeline("in-process", INTERVAL_S, INTERVAL_S)
    run = simulate(trace, world, PolicySpec(policy, KNOBS[policy]), pipeline, seed=0)
    return replace(run, latency_s=run.latency_s + measured.path_s)


def compare(trace: Trace, name: str, policy: str, arrivals: Path, out: Path) -> Pair:
    print(f"{name}: real ebb serve with {policy} ...", file=sys.stderr, flush=True)
    options = [f"{key}={value}" for key, value in KNOBS[policy].items()
               if key != "scale_in_delay_s"]
    real = run_policy(policy, name, ["--profile", "trace", "--trace", str(arrivals)],
                      MIN_WORKERS, MAX_WORKERS, SCALE_IN_DELAY_S, settle_s=0, out=out,
                      model=f"builtin:sleep?ms={SERVICE_MS:g}&load_ms={LOAD_MS:g}",
                      interval_s=INTERVAL_S, options=options)
    measured = measure(real)
    sim = simulate_like(trace, policy, measured)
    summary = summarise(sim, SLO_MS / 1000, trace.arrivals)
    real_cost = worker_seconds(real.rows)
    sim_summary = {"p50_ms": summary.p50_ms, "p95_ms": summary.p95_ms, "p99_ms": summary.p99_ms,
                   "slo_attainment": summary.slo_attainment,
                   "worker_seconds": sim.worker_seconds_between(0.0, _span(real)),
                   "scale_events": summary.scale_events}
    real_summary = {key: float(real.summary[f"{key[:-3]}_s"]) * 1000  # type: ignore[arg-type]
                    for key in ("p50_ms", "p95_ms", "p99_ms")}
    real_summary |= {"slo_attainment": float(real.summary["slo_attainment"]),  # type: ignore[arg-type]
                     "worker_seconds": real_cost, "scale_events": len(real.decisions)}
    return Pair(policy, trace.arrivals, real, measured, sim, sim_summary, real_summary)


def _span(run: Run) -> float:
    """Seconds the real run's timeline covers: its worker-seconds are summed over them."""
    return float(len([row for row in run.rows if not math.isnan(row["workers_ready"])]))


def _difference(real: float, sim: float) -> float:
    return (sim - real) / real if real else math.nan


def table(pairs: list[Pair]) -> list[str]:
    lines = ["| policy | | p50 ms | p95 ms | p99 ms | SLO attainment | worker-s | "
             "scale events |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for pair in pairs:
        for label, values in (("real", pair.real_summary), ("sim", pair.sim_summary)):
            lines.append(f"| {pair.policy} | {label} | {values['p50_ms']:.1f} | "
                         f"{values['p95_ms']:.1f} | {values['p99_ms']:.1f} | "
                         f"{values['slo_attainment'] * 100:.2f} % | "
                         f"{values['worker_seconds']:.0f} | {values['scale_events']:.0f} |")
        real, sim = pair.real_summary, pair.sim_summary
        p99 = _difference(real["p99_ms"], sim["p99_ms"])
        cost = _difference(real["worker_seconds"], sim["worker_seconds"])
        p50 = _difference(real["p50_ms"], sim["p50_ms"])
        p95 = _difference(real["p95_ms"], sim["p95_ms"])
        lines.append(f"| {pair.policy} | sim - real | {_percent(p50)} | {_percent(p95)} | "
                     f"**{_percent(p99)}** {_verdict(p99)} | "
                     f"{(sim['slo_attainment'] - real['slo_attainment']) * 100:+.2f} pt | "
                     f"**{_percent(cost)}** {_verdict(cost)} | "
                     f"{sim['scale_events'] - real['scale_events']:+.0f} |")
    return lines


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value * 100:+.1f} %"


def _verdict(value: float) -> str:
    return "(within 10 %)" if abs(value) <= TARGET else "(outside 10 %)"


def measured_lines(pairs: list[Pair]) -> list[str]:
    return [f"- {pair.policy}: service {pair.measured.service_s * 1000:.1f} ms per batch, cold "
            f"start {pair.measured.cold_start_s:.2f} s, path time "
            f"{pair.measured.path_s * 1000:.1f} ms, mean |workers sim - real| per second "
            f"{_worker_gap(pair):.2f}" for pair in pairs]


def _worker_gap(pair: Pair) -> float:
    seconds = np.array([row["second"] for row in pair.real.rows])
    real = np.array([row["workers_ready"] + row["workers_starting"] for row in pair.real.rows])
    keep = ~np.isnan(real)
    timeline = pair.sim.timeline
    sim = np.interp(seconds[keep] + 0.5, timeline.times, timeline.ready + timeline.starting)
    return float(np.mean(np.abs(sim - real[keep]))) if keep.any() else math.nan


def plot(pairs: list[Pair], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, len(pairs), figsize=(5.0 * len(pairs), 6.0), sharex=True,
                                squeeze=False)
    for column, pair in enumerate(pairs):
        rows = pair.real.rows
        seconds = [row["second"] for row in rows]
        timeline = pair.sim.timeline
        top, bottom = axes[0][column], axes[1][column]
        top.step(seconds, [row["workers_ready"] + row["workers_starting"] for row in rows],
                 where="post", label="real: ready + starting")
        top.plot(timeline.times, timeline.ready + timeline.starting, label="sim: ready + starting",
                 alpha=0.8)
        top.set_title(pair.policy)
        bottom.plot(seconds, [row["p99_ms"] for row in rows], label="real p99 per second")
        bottom.plot(*_sim_p99(pair), label="sim p99 per second", alpha=0.8)
        bottom.axhline(SLO_MS, linestyle="--", color="gray")
        bottom.set_yscale("log")
        bottom.set_xlabel("seconds")
    axes[0][0].set_ylabel("workers")
    axes[1][0].set_ylabel("p99 latency (ms)")
    axes[0][0].legend(loc="upper left", fontsize=8)
    axes[1][0].legend(loc="upper left", fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _sim_p99(pair: Pair) -> tuple[list[float], list[float]]:
    arrivals, latency = pair.arrivals, pair.sim.latency_s
    seconds, values = [], []
    for second in range(math.ceil(float(arrivals[-1])) + 1):
        inside = latency[(arrivals >= second) & (arrivals < second + 1)]
        inside = inside[~np.isnan(inside)]
        if len(inside):
            seconds.append(float(second))
            values.append(float(np.percentile(inside, 99)) * 1000)
    return seconds, values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=["step", "azure"], action="append",
                        help="repeatable; default: both")
    parser.add_argument("--policies", nargs="+", default=["ebb", "kpa"],
                        choices=sorted(KNOBS))
    parser.add_argument("--trace-seconds", type=float, default=120.0,
                        help="azure: seconds of the 30x compressed trace to replay")
    args = parser.parse_args()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"sim-vs-real-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    report = [f"# Simulator vs a real server, {stamp}", ""]
    for name in args.scenario or ["step", "azure"]:
        trace = scenario_trace(name, args.trace_seconds)
        arrivals = out / f"{name}-arrivals.txt"
        write_arrivals(trace, arrivals)
        pairs = [compare(trace, name, policy, arrivals, out) for policy in args.policies]
        report += [f"## {name}: {len(trace)} arrivals over {trace.duration_s:.0f} s", "",
                   *table(pairs), "", "Measured on the server and given to the simulator:",
                   *measured_lines(pairs), "", f"![{name}]({name}.png)", ""]
        plot(pairs, out / f"{name}.png", f"{name}: real server vs simulator")
    text = "\n".join(report)
    (out / "README.md").write_text(text)
    print(text)
    print(f"\nresults in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
