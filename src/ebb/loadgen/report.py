"""The run's summary as text (for people) and as JSON (for scripts), and the CSV timeline."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from ebb.loadgen.runner import LoadResult
from ebb.loadgen.stats import Summary, Timeline

CSV_COLUMNS = ("second", "offered", "sent", "answered", "rejected", "timeouts", "errors",
               "client_dropped", "p50_ms", "p99_ms", "queue_depth", "workers_ready",
               "workers_starting")


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def _share(part: int, whole: int) -> str:
    return f" ({100 * part / whole:.1f} %)" if whole else ""


def summary_text(result: LoadResult) -> str:
    summary, config = result.summary, result.config
    target = config.grpc_target if config.protocol == "grpc" else config.url
    attainment = ("-" if math.isnan(summary.slo_attainment)
                  else f"{100 * summary.slo_attainment:.1f} %")
    lines = [
        f"ebb load: {config.schedule.description}, {config.protocol} {target}, "
        f"model {config.model}" + (" (stopped early)" if result.stopped_early else ""),
        f"  requests   offered {summary.offered}, sent {summary.sent}, "
        f"answered {summary.answered}{_share(summary.answered, summary.offered)}",
        f"  failures   rejected {summary.rejected}{_share(summary.rejected, summary.offered)}, "
        f"timeouts {summary.timeouts}, errors {summary.errors}, "
        f"client-dropped {summary.dropped}",
        f"  latency    p50 {_ms(summary.p50_s)}, p95 {_ms(summary.p95_s)}, "
        f"p99 {_ms(summary.p99_s)}, max {_ms(summary.max_s)}",
        f"  SLO        {attainment} of offered requests answered within "
        f"{summary.slo_s * 1000:g} ms",
        f"  rate       offered {summary.offered_rate:.1f}/s over {summary.duration_s:.1f} s, "
        f"achieved {summary.achieved_rate:.1f}/s over {summary.elapsed_s:.1f} s",
        f"  generator  p99 send lag {_ms(summary.lag_p99_s)}",
    ]
    if len(result.gauges.t):
        depth = result.gauges.queue_depth
        peak = "-" if np.all(np.isnan(depth)) else f"{np.nanmax(depth):.0f}"
        lines.append(f"  server     {len(result.gauges.t)} /metrics scrapes, "
                     f"peak queue depth {peak}")
    elif result.metrics_note:
        lines.append(f"  server     {result.metrics_note}")
    elif config.metrics_url is None:
        lines.append("  server     /metrics not polled (give --metrics-url)")
    if config.schedule.credit:
        lines.append(f"  trace      {config.schedule.credit}")
    for detail, count in summary.top_errors:
        lines.append(f"  seen {count}x: {detail}")
    return "\n".join(lines)


def summary_json(result: LoadResult) -> dict[str, Any]:
    """The summary as plain JSON types; NaN becomes null."""
    summary: Summary = result.summary
    document: dict[str, Any] = {
        "protocol": result.config.protocol, "model": result.config.model,
        "profile": result.config.schedule.description,
        "trace_credit": result.config.schedule.credit, "stopped_early": result.stopped_early,
        "metrics_scrapes": len(result.gauges.t), "metrics_failures": result.metrics_failures,
        "started_at_unix": result.origin_unix,
    }
    for key, value in vars(summary).items():
        if key == "top_errors":
            document[key] = [{"detail": detail, "count": count} for detail, count in value]
        elif isinstance(value, float):
            document[key] = None if math.isnan(value) else value
        else:
            document[key] = value
    return document


def write_csv(timeline: Timeline, path: Path) -> None:
    columns = (timeline.second, timeline.offered, timeline.sent, timeline.answered,
               timeline.rejected, timeline.timeouts, timeline.errors, timeline.dropped,
               timeline.p50_s * 1000, timeline.p99_s * 1000, timeline.queue_depth,
               timeline.workers_ready, timeline.workers_starting)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for row in zip(*columns, strict=True):
            writer.writerow([_cell(value) for value in row])


def _cell(value: Any) -> str:
    number = float(value)
    if math.isnan(number):
        return ""
    return str(int(number)) if number.is_integer() else f"{number:.3f}"
