"""The run's timeline as one PNG: stacked panels sharing the time axis.

Arrival and answer rates, latency percentiles against the SLO, and, when the server's /metrics
was read, its queue depth and its ready/starting workers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ebb.loadgen.runner import LoadResult


def write_plot(result: LoadResult, path: Path) -> None:
    from matplotlib.figure import Figure  # a bare Figure renders with Agg, no pyplot state
    from matplotlib.ticker import MaxNLocator

    line, gauges = result.timeline, result.gauges
    has_gauges = len(gauges.t) > 0
    panels = 4 if has_gauges else 2
    figure = Figure(figsize=(10, 2.2 * panels + 0.6), layout="constrained")
    axes = figure.subplots(panels, 1, sharex=True)
    edges = np.append(line.second, len(line.second)).astype(float)
    middle = line.second + 0.5

    rates = axes[0]
    rates.stairs(line.offered, edges, label="offered", linewidth=1.5)
    rates.stairs(line.answered, edges, label="answered", linewidth=1.5)
    if line.rejected.any():
        rates.stairs(line.rejected, edges, label="rejected", color="tab:red")
    failed = line.timeouts + line.errors + line.dropped
    if failed.any():
        rates.stairs(failed, edges, label="timeouts+errors+dropped", color="black")
    rates.set_ylabel("requests/s")
    rates.legend(loc="upper left", fontsize="small")

    latency = axes[1]
    latency.plot(middle, line.p50_s * 1000, marker=".", label="p50")
    latency.plot(middle, line.p99_s * 1000, marker=".", label="p99")
    latency.axhline(result.summary.slo_s * 1000, color="grey", linestyle="--", label="SLO")
    latency.set_ylabel("latency (ms)")
    if np.nanmax(np.append(line.p99_s, 0.0)) > 20 * result.summary.slo_s:
        latency.set_yscale("log")
    else:
        latency.set_ylim(bottom=0)
    latency.legend(loc="upper left", fontsize="small")

    if has_gauges:
        queue = axes[2]
        queue.plot(gauges.t, gauges.queue_depth, color="tab:purple")
        queue.set_ylabel("queue depth")
        queue.set_ylim(bottom=0)
        workers = axes[3]
        workers.step(gauges.t, gauges.ready, where="post", label="ready")
        workers.step(gauges.t, gauges.starting, where="post", label="starting")
        workers.set_ylabel("workers")
        workers.yaxis.set_major_locator(MaxNLocator(integer=True))
        workers.set_ylim(bottom=0)
        workers.legend(loc="upper left", fontsize="small")
    for axis in axes:
        axis.grid(alpha=0.3)
    axes[-1].set_xlabel("time (s)")
    axes[0].set_title(f"ebb load: {result.config.schedule.description} "
                      f"({result.config.protocol}, {result.config.model})")
    if result.config.schedule.credit:
        figure.supxlabel(f"Trace: {result.config.schedule.credit}", fontsize="x-small",
                         color="grey")
    figure.savefig(path, dpi=100)
