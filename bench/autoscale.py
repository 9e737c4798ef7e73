"""Autoscaling side by side: Ebb's policy against the Kubernetes HPA, Knative KPA (and, for the
trace replay, KEDA and Ray Serve) on the same server, model and traffic, in one run.

Scenario ``step`` (issue 3's done-criterion): a model with a fixed 20 ms service time
(``builtin:sleep?ms=20``, batching off), one worker at 50 % load (25 req/s), then a step to 6x
one worker's capacity (300 req/s). Measured per policy: when the first scale-up happened after
the step, when p99 came back under the 200 ms SLO for good, failed requests, worker-seconds,
and how long the pool took to return to its minimum after the load stopped.

Scenario ``trace``: the Azure LLM conversation trace (one hour, 19,366 requests; Azure Public
Dataset, CC-BY 4.0, Patel et al., "Splitwise", ISCA 2024), time-compressed so that it needs
several workers; SLO attainment, worker-seconds and scale events per policy.

The controller runs every 0.25 s (`--autoscale-interval-s`; the default is 0.5 s); a policy's own
periods (HPA's 15 s sync, KPA's 2 s tick) are inside the policy and unchanged.
Servers are pinned to core 0 (their workers sleep, so they need little CPU), the load generator
to core 1. Traffic goes to 127.0.0.1 only. Writes a markdown table and timeline plots to
bench/results/. Usage::

    python bench/autoscale.py                    # both scenarios, ~15 minutes
    python bench/autoscale.py --scenario step --policies ebb hpa kpa
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TRACE = ROOT.parent / "shared" / "traces" / "azure_llm_2023_conv.csv"
SLO_MS = 200.0
MODEL = "builtin:sleep?ms=20"
POLICY_OPTIONS = {"kpa": ["container_concurrency=1"], "keda": [], "hpa": [], "ray": [],
                  "ebb": []}
"""KPA's default target (100 concurrent requests x 0.7) suits an HTTP app, not a worker that runs
one request at a time; a Knative user would set containerConcurrency=1 for such a model."""
_DECISION = re.compile(r"^(\S+ \S+) INFO ebb\.autoscale: model sleep: \w+ (\d+) -> (\d+)")


@dataclass
class Run:
    policy: str
    scenario: str
    summary: dict[str, object]
    rows: list[dict[str, float]]
    decisions: list[tuple[float, int, int]]
    """(seconds since load start, from, to)"""
    scale_in_s: float | None = None
    notes: list[str] = field(default_factory=list)
    final_metrics: str = ""
    """The server's /metrics right after the load ended."""


def start_server(policy: str, log: Path, min_workers: int, max_workers: int,
                 scale_in_delay_s: float, *, model: str = MODEL, interval_s: float = 0.25,
                 options: list[str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """`ebb serve` on core 0 with the policy; returns the process and its REST base URL."""
    command = ["taskset", "-c", "0", sys.executable, "-m", "ebb", "serve", model,
               "--max-batch-size", "1", "--min-workers", str(min_workers),
               "--max-workers", str(max_workers), "--policy", policy, "--slo-ms", str(SLO_MS),
               "--scale-in-delay-s", str(scale_in_delay_s), "--max-queue-size", "4096",
               "--autoscale-interval-s", str(interval_s),
               "--http-port", "0", "--grpc-port", "0"]
    for option in POLICY_OPTIONS[policy] if options is None else options:
        command += ["--policy-option", option]
    process = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"REST\s+(http://127\.0\.0\.1:\d+)/v2", log.read_text())
        if found and _ready_workers(found.group(1)) >= min_workers:
            return process, found.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"ebb serve did not start:\n{log.read_text()}")


def _ready_workers(url: str) -> int:
    for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith('ebb_workers{model="sleep",state="ready"}'):
            return int(float(line.split()[-1]))
    return -1


def decisions(log: Path, load_started_wall: float) -> list[tuple[float, int, int]]:
    found = []
    for line in log.read_text().splitlines():
        match = _DECISION.match(line)
        if match:
            stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            found.append((stamp - load_started_wall, int(match.group(2)), int(match.group(3))))
    return found


def run_policy(policy: str, scenario: str, load_args: list[str], min_workers: int,
               max_workers: int, scale_in_delay_s: float, settle_s: float, out: Path, *,
               model: str = MODEL, interval_s: float = 0.25,
               options: list[str] | None = None) -> Run:
    log = out / f"{scenario}-{policy}-server.log"
    csv_path = out / f"{scenario}-{policy}.csv"
    process, url = start_server(policy, log, min_workers, max_workers, scale_in_delay_s,
                                model=model, interval_s=interval_s, options=options)
    try:
        started_wall = time.time()
        load = subprocess.run(
            ["taskset", "-c", "1", sys.executable, "-m", "ebb", "load", url, "--model",
             "sleep", "--slo-ms", str(SLO_MS), "--json", "--no-progress", "--csv",
             str(csv_path), "--concurrency-limit", "4000", "--timeout-s", "60", *load_args],
            capture_output=True, text=True, timeout=1200, check=False)
        if load.returncode != 0:
            raise RuntimeError(f"ebb load failed: {load.stderr}")
        summary = json.loads(load.stdout)
        final_metrics = httpx.get(f"{url}/metrics", timeout=10).text
        ended = time.monotonic()
        scale_in_s = None
        while time.monotonic() - ended < settle_s:
            if _ready_workers(url) == min_workers:
                scale_in_s = time.monotonic() - ended
                break
            time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(30)
    with csv_path.open() as handle:
        rows = [{key: float(value) if value else math.nan for key, value in row.items()}
                for row in csv.DictReader(handle)]
    origin = float(summary.get("started_at_unix") or started_wall)  # type: ignore[arg-type]
    return Run(policy, scenario, summary, rows, decisions(log, origin), scale_in_s,
               final_metrics=final_metrics)


def worker_seconds(rows: list[dict[str, float]]) -> float:
    total = 0.0
    for row in rows:
        ready, starting = row.get("workers_ready", math.nan), row.get("workers_starting", 0.0)
        if not math.isnan(ready):
            total += ready + (0 if math.isnan(starting) else starting)
    return total


def _peak_workers(rows: list[dict[str, float]]) -> float:
    ready = [row["workers_ready"] for row in rows if not math.isnan(row["workers_ready"])]
    return max(ready, default=0.0)


def step_metrics(run: Run, step_at: float, step_end: float) -> dict[str, str]:
    first_up = next((t - step_at for t, old, new in run.decisions
                     if t >= step_at - 0.5 and new > old), None)
    late = [row for row in run.rows if step_at <= row["second"] < step_end]
    recovered = None
    for index, row in enumerate(late):
        if all(math.isnan(r["p99_ms"]) or r["p99_ms"] <= SLO_MS for r in late[index:]):
            recovered = row["second"] - step_at
            break
    summary = run.summary
    failed = sum(int(summary.get(key, 0) or 0) for key in ("rejected", "errors", "timeouts",
                                                          "dropped"))
    return {
        "policy": run.policy,
        "first scale-up after step": f"{first_up:.2f} s" if first_up is not None else "none",
        "p99 back under SLO": f"{recovered:.0f} s" if recovered is not None else "never",
        "failed requests": str(failed),
        "answered": str(summary.get("answered")),
        "p99": f"{float(summary.get('p99_s') or 0) * 1000:.0f} ms",
        "SLO attainment": f"{float(summary.get('slo_attainment') or 0) * 100:.1f} %",
        "worker-seconds": f"{worker_seconds(run.rows):.0f}",
        "peak workers": f"{_peak_workers(run.rows):.0f}",
        "back to min after load": (f"{run.scale_in_s:.0f} s" if run.scale_in_s is not None
                                   else "not within the wait"),
    }


def trace_metrics(run: Run) -> dict[str, str]:
    summary = run.summary
    failed = sum(int(summary.get(key, 0) or 0) for key in ("rejected", "errors", "timeouts",
                                                          "dropped"))
    flips = 0
    last_direction = 0
    for _, old, new in run.decisions:
        direction = 1 if new > old else -1
        if last_direction and direction != last_direction:
            flips += 1
        last_direction = direction
    return {
        "policy": run.policy,
        "SLO attainment": f"{float(summary.get('slo_attainment') or 0) * 100:.2f} %",
        "p99": f"{float(summary.get('p99_s') or 0) * 1000:.0f} ms",
        "failed requests": str(failed),
        "worker-seconds": f"{worker_seconds(run.rows):.0f}",
        "scale events": str(len(run.decisions)),
        "direction flips": str(flips),
    }


def table(rows: list[dict[str, str]]) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row[key] for key in header) + " |" for row in rows]
    return "\n".join(lines)


def plot(runs: list[Run], path: Path, title: str, marks: tuple[float, ...] = ()) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(3, len(runs), figsize=(4.2 * len(runs), 7.5), sharex=True,
                                squeeze=False)
    for column, run in enumerate(runs):
        seconds = [row["second"] for row in run.rows]
        axes[0][column].plot(seconds, [row["offered"] for row in run.rows], label="offered")
        axes[0][column].plot(seconds, [row["answered"] for row in run.rows], label="answered")
        axes[0][column].set_title(run.policy)
        axes[1][column].plot(seconds, [row["p99_ms"] for row in run.rows], color="tab:red")
        axes[1][column].axhline(SLO_MS, linestyle="--", color="gray")
        axes[1][column].set_yscale("log")
        axes[2][column].step(seconds, [row["workers_ready"] for row in run.rows], where="post",
                             label="ready")
        axes[2][column].step(seconds, [row["workers_starting"] for row in run.rows],
                             where="post", label="starting")
        for mark in marks:
            for row_axes in axes:
                row_axes[column].axvline(mark, color="gray", alpha=0.4)
    axes[0][0].set_ylabel("requests/s")
    axes[1][0].set_ylabel("p99 latency (ms)")
    axes[2][0].set_ylabel("workers")
    axes[0][0].legend(loc="upper left", fontsize=8)
    axes[2][0].legend(loc="upper left", fontsize=8)
    for column in range(len(runs)):
        axes[2][column].set_xlabel("seconds")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def write_report(out: Path, lines: list[str]) -> None:
    """The markdown report: README.md in the run's folder, and on stdout."""
    text = "\n".join(lines)
    (out / "README.md").write_text(text)
    print(text)
    print(f"\nresults in {out}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=["step", "trace", "both"], default="both")
    parser.add_argument("--policies", nargs="+", default=None)
    parser.add_argument("--speedup", type=float, default=30.0,
                        help="trace time compression (default 30: one hour in two minutes)")
    parser.add_argument("--trace-seconds", type=float, default=120.0,
                        help="how much of the compressed trace to replay")
    args = parser.parse_args()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"autoscale-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    report = [f"# Autoscaling benchmark {stamp}", ""]
    if args.scenario in ("step", "both"):
        policies = args.policies or ["ebb", "hpa", "kpa"]
        step_at, step_end = 10.0, 40.0
        runs = []
        for policy in policies:
            print(f"step test: {policy} ...", file=sys.stderr, flush=True)
            runs.append(run_policy(
                policy, "step", ["--profile", "step", "--rate", "25", "--step-to", "300",
                                 "--step-at", str(step_at), "--duration", str(step_end),
                                 "--seed", "1"],
                min_workers=1, max_workers=10, scale_in_delay_s=15, settle_s=60, out=out))
        report += ["## Step: 25 -> 300 req/s at 10 s, 20 ms per request, SLO 200 ms", "",
                   table([step_metrics(run, step_at, step_end) for run in runs]), "",
                   "![step timelines](step.png)", ""]
        plot(runs, out / "step.png", "Step 25 -> 300 req/s (20 ms per request)", (step_at,))
    if args.scenario in ("trace", "both"):
        policies = args.policies or ["ebb", "hpa", "keda", "kpa", "ray"]
        runs = []
        for policy in policies:
            print(f"trace replay: {policy} ...", file=sys.stderr, flush=True)
            runs.append(run_policy(
                policy, "trace", ["--profile", "trace", "--trace", str(TRACE), "--speedup",
                                  str(args.speedup), "--duration", str(args.trace_seconds)],
                min_workers=1, max_workers=10, scale_in_delay_s=15, settle_s=5, out=out))
        report += [f"## Azure LLM conversation trace, x{args.speedup:g} time compression, "
                   f"first {args.trace_seconds:g} s, SLO 200 ms", "",
                   table([trace_metrics(run) for run in runs]), "",
                   "Trace: Azure Public Dataset (Azure LLM inference trace 2023), CC-BY 4.0; "
                   "Patel et al., Splitwise, ISCA 2024.", "", "![trace timelines](trace.png)", ""]
        plot(runs, out / "trace.png", "Azure conversation trace replay")
    write_report(out, report)


if __name__ == "__main__":
    main()
