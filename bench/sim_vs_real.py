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
4. Simulated: the same policy and knobs, the same bounds, one ready worker at the start,
   signals fresh every 0.5 s, seed 0. Where the load starts within a policy's own period (the
   controller's 0.5 s, KPA's 2 s decider tick, HPA's 15 s sync) is chance on the real server,
   so the simulator runs it at four evenly spread phases (an idle lead-in before the first
   arrival) and reports their mean, and their range beside it.

Writes a markdown report and one timeline plot per scenario to bench/results/sim-vs-real-*/::

    python bench/sim_vs_real.py                          # ebb and kpa on both, ~9 minutes
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
from autoscale import RESULTS, TRACE, Run, run_policy, worker_seconds, write_report

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
PERIOD_S = {"ebb": INTERVAL_S, "kpa": 2.0, "hpa": 15.0, "keda": 15.0, "ray": INTERVAL_S}
"""The longest clock inside each policy whose phase against the arrivals is left to chance."""
PHASES = 4
METRICS = ("p50_ms", "p95_ms", "p99_ms", "slo_attainment", "worker_seconds", "scale_events")


@dataclass(frozen=True)
class Measured:
    service_s: float
    cold_start_s: float
    path_s: float


@dataclass(frozen=True)
class Simulated:
    lead_s: float
    """Idle seconds before the first arrival: sets the policy's phase."""
    run: SimRun
    figures: dict[str, float]


@dataclass(frozen=True)
class Pair:
    policy: str
    arrivals: np.ndarray
    real: Run
    measured: Measured
    phases: list[Simulated]
    real_summary: dict[str, float]

    @property
    def sim_summary(self) -> dict[str, float]:
        return {key: float(np.mean([p.figures[key] for p in self.phases])) for key in METRICS}

    def sim_range(self, key: str) -> tuple[float, float]:
        values = [p.figures[key] for p in self.phases]
        return min(values), max(values)


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


def simulate_like(trace: Trace, policy: str, measured: Measured, lead_s: float,
                  span_s: float) -> Simulated:
    world = World(ServiceModel(measured.service_s, 0.0), ColdStart(measured.cold_start_s),
                  slo_s=SLO_MS / 1000, min_workers=MIN_WORKERS, max_workers=MAX_WORKERS,
                  initial_workers=MIN_WORKERS, max_batch_size=1, queue_bound=4096)
    pipeline = Pipeline("in-process", INTERVAL_S, INTERVAL_S)
    late = Trace(trace.arrivals + lead_s, trace.sizes, trace.name, trace.credit,
                 trace.duration_s + lead_s)
    run = simulate(late, world, PolicySpec(policy, KNOBS[policy]), pipeline, seed=0)
    run = replace(run, latency_s=run.latency_s + measured.path_s)
    summary = summarise(run, SLO_MS / 1000, late.arrivals, start_s=lead_s)
    figures = {"p50_ms": summary.p50_ms, "p95_ms": summary.p95_ms, "p99_ms": summary.p99_ms,
               "slo_attainment": summary.slo_attainment,
               "worker_seconds": run.worker_seconds_between(lead_s, lead_s + span_s),
               "scale_events": float(summary.scale_events)}
    return Simulated(lead_s, run, figures)


def compare(trace: Trace, name: str, policy: str, arrivals: Path, out: Path) -> Pair:
    print(f"{name}: real ebb serve with {policy} ...", file=sys.stderr, flush=True)
    options = [f"{key}={value}" for key, value in KNOBS[policy].items()
               if key != "scale_in_delay_s"]
    real = run_policy(policy, name, ["--profile", "trace", "--trace", str(arrivals)],
                      MIN_WORKERS, MAX_WORKERS, SCALE_IN_DELAY_S, settle_s=0, out=out,
                      model=f"builtin:sleep?ms={SERVICE_MS:g}&load_ms={LOAD_MS:g}",
                      interval_s=INTERVAL_S, options=options)
    measured = measure(real)
    span = _span(real)
    phases = [simulate_like(trace, policy, measured, PERIOD_S[policy] * k / PHASES, span)
              for k in range(PHASES)]
    real_summary = {key: float(real.summary[f"{key[:-3]}_s"]) * 1000  # type: ignore[arg-type]
                    for key in ("p50_ms", "p95_ms", "p99_ms")}
    real_summary |= {"slo_attainment": float(real.summary["slo_attainment"]),  # type: ignore[arg-type]
                     "worker_seconds": worker_seconds(real.rows),
                     "scale_events": float(len(real.decisions))}
    return Pair(policy, trace.arrivals, real, measured, phases, real_summary)


def _span(run: Run) -> float:
    """Seconds the real run's timeline covers: its worker-seconds are summed over them."""
    return float(len([row for row in run.rows if not math.isnan(row["workers_ready"])]))


def _difference(real: float, sim: float) -> float:
    return (sim - real) / real if real else math.nan


def table(pairs: list[Pair]) -> list[str]:
    lines = ["| policy | | p50 ms | p95 ms | p99 ms | SLO attainment | worker-s | "
             "scale events |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for pair in pairs:
        sim_label = f"sim, mean of {PHASES} phases"
        for label, values in (("real", pair.real_summary), (sim_label, pair.sim_summary)):
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
    lines = []
    for pair in pairs:
        p99, cost = pair.sim_range("p99_ms"), pair.sim_range("worker_seconds")
        lines.append(
            f"- {pair.policy}: service {pair.measured.service_s * 1000:.1f} ms per batch, cold "
            f"start {pair.measured.cold_start_s:.2f} s, path time "
            f"{pair.measured.path_s * 1000:.1f} ms; over the {PHASES} phases the simulated p99 "
            f"spans {p99[0]:.0f}-{p99[1]:.0f} ms and worker-seconds {cost[0]:.0f}-{cost[1]:.0f}; "
            f"mean |workers sim - real| per second {_worker_gap(pair):.2f}")
    return lines


def _worker_gap(pair: Pair) -> float:
    seconds = np.array([row["second"] for row in pair.real.rows])
    real = np.array([row["workers_ready"] + row["workers_starting"] for row in pair.real.rows])
    keep = ~np.isnan(real)
    gaps = []
    for phase in pair.phases:
        timeline = phase.run.timeline
        sim = np.interp(seconds[keep] + 0.5 + phase.lead_s, timeline.times,
                        timeline.ready + timeline.starting)
        gaps.append(float(np.mean(np.abs(sim - real[keep]))) if keep.any() else math.nan)
    return float(np.mean(gaps))


def plot(pairs: list[Pair], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, len(pairs), figsize=(5.0 * len(pairs), 6.0), sharex=True,
                                squeeze=False)
    for column, pair in enumerate(pairs):
        rows = pair.real.rows
        seconds = [row["second"] for row in rows]
        top, bottom = axes[0][column], axes[1][column]
        top.step(seconds, [row["workers_ready"] + row["workers_starting"] for row in rows],
                 where="post", label="real: ready + starting", linewidth=2)
        bottom.plot(seconds, [row["p99_ms"] for row in rows], label="real p99 per second",
                    linewidth=2)
        for index, phase in enumerate(pair.phases):
            timeline = phase.run.timeline
            label = f"sim, {PHASES} phases" if index == 0 else None
            top.plot(timeline.times - phase.lead_s, timeline.ready + timeline.starting,
                     color="tab:orange", alpha=0.5, linewidth=1, label=label)
            bottom.plot(*_sim_p99(pair.arrivals, phase.run.latency_s), color="tab:orange",
                        alpha=0.5, linewidth=1, label=label)
        top.set_title(pair.policy)
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


def _sim_p99(arrivals: np.ndarray, latency: np.ndarray) -> tuple[list[float], list[float]]:
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
    write_report(out, report)


if __name__ == "__main__":
    main()
