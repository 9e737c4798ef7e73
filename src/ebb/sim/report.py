"""What a comparison looks like to a reader: a text table, a JSON summary, two PNG figures
(Pareto: cost vs SLO attainment; timelines: arrivals, queue, workers, p99) and one
self-contained HTML page with the figures embedded.

Plotting uses matplotlib's Agg backend, imported only when a figure is drawn, so the
simulator itself does not need matplotlib.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ebb.sim.compare import Comparison, pipeline_for
from ebb.sim.decisions import decisions_html
from ebb.sim.metrics import Summary, windowed_p99
from ebb.sim.tune import Tuned
from ebb.sim.world import PolicySpec

JsonValue = Any


@dataclass(frozen=True, slots=True)
class Report:
    """A comparison and, with `--tune`, the grid results and the held-out comparison."""

    main: Comparison
    specs: tuple[PolicySpec, ...]
    tuned: tuple[Tuned, ...] = ()
    held_out: Comparison | None = None
    """Defaults and tuned settings side by side on the held-out slice."""


def summary_json(report: Report) -> dict[str, JsonValue]:
    """The `--json` document: trace, SLO, oracle, and one entry per policy (held-out entries
    under "held_out" with `--tune`)."""
    main = report.main
    doc: dict[str, JsonValue] = {
        "trace": main.trace.name,
        "slo_ms": round(main.world.slo_s * 1000, 6),
        "oracle": _oracle_json(main),
        "policies": {s.policy: _policy_json(main, s) for s in main.summaries},
    }
    if main.trace.credit:
        doc["credit"] = main.trace.credit
    if report.held_out is not None:
        held = report.held_out
        doc["held_out"] = {
            "scored_from_s": held.scored_from_s,
            "oracle": _oracle_json(held),
            "policies": {s.policy: _policy_json(held, s) for s in held.summaries},
            "tuned_settings": {t.policy: t.setting for t in report.tuned},
        }
    return doc


def _oracle_json(comparison: Comparison) -> dict[str, JsonValue]:
    bound = comparison.oracle_worker_seconds
    clairvoyant = comparison.clairvoyant_worker_seconds
    doc: dict[str, JsonValue] = {
        "worker_seconds": None if math.isinf(bound) else round(bound, 3),
        "clairvoyant_worker_seconds": None if math.isinf(clairvoyant) else round(
            clairvoyant, 3),
        "attainment": comparison.target_attainment,
        "window_s": comparison.oracle.window_s,
        "best_attainment": round(comparison.oracle.best_attainment, 6),
    }
    cluster = comparison.world.cluster
    if cluster is not None:
        doc["pod_seconds"] = None if math.isinf(bound) else round(
            bound / cluster.workers_per_pod, 3)
    return doc


def _policy_json(comparison: Comparison, summary: Summary) -> dict[str, JsonValue]:
    doc: dict[str, JsonValue] = dict(summary.as_json())
    for key, ratio in (("ratio_to_oracle", comparison.ratio_to_oracle(summary)),
                       ("ratio_to_clairvoyant", comparison.ratio_to_clairvoyant(summary))):
        doc[key] = None if math.isnan(ratio) else round(ratio, 4)
    spread = comparison.spreads[comparison.summaries.index(summary)]
    if spread.repeats > 1:
        doc["spread"] = {"repeats": spread.repeats,
                         "slo_attainment": [round(spread.attainment_min, 6),
                                            round(spread.attainment_max, 6)],
                         "worker_seconds": [round(spread.worker_seconds_min, 3),
                                            round(spread.worker_seconds_max, 3)]}
    return doc


# ---------------------------------------------------------------------------------------------
# Text


def table(comparison: Comparison) -> str:
    """A fixed-width table of the comparison, the two bounds' lines last (with pod-seconds in
    the kubernetes world): "x ideal" is cost over the ideal oracle's, "x clairv" over the
    clairvoyant bound's, both at the target attainment."""
    cluster = comparison.world.cluster
    pods = f" {'pod-s':>9}" if cluster else ""
    head = (f"{'policy':<16} {'attain':>8} {'p50 ms':>8} {'p99 ms':>9} {'rejected':>8} "
            f"{'worker-s':>10}{pods} {'x ideal':>8} {'x clairv':>8} {'events':>6} "
            f"{'flips':>5} {'recover':>8}")
    lines = [head, "-" * len(head)]
    for s in comparison.summaries:
        ratio = comparison.ratio_to_oracle(s)
        recover = "-" if s.recovery_s is None else f"{s.recovery_s:.1f}s"
        pod_s = f" {s.pod_seconds or 0.0:>9.1f}" if cluster else ""
        lines.append(
            f"{s.policy:<16} {s.slo_attainment * 100:7.2f}% {_ms(s.p50_ms):>8} "
            f"{_ms(s.p99_ms):>9} {s.rejected:>8} {s.worker_seconds:>10.1f}{pod_s} "
            f"{ratio:>8.2f} {comparison.ratio_to_clairvoyant(s):>8.2f} {s.scale_events:>6} "
            f"{s.flips:>5} {recover:>8}")
    ideal = comparison.oracle_worker_seconds
    clairvoyant = comparison.clairvoyant_worker_seconds
    for name, bound in (("clairvoyant", clairvoyant), ("oracle (ideal)", ideal)):
        pod_s = f" {bound / cluster.workers_per_pod:>9.1f}" if cluster else ""
        lines.append(f"{name:<16} {comparison.target_attainment * 100:7.2f}% {'':>8} "
                     f"{'':>9} {'':>8} {bound:>10.1f}{pod_s} {_ratio(bound, ideal):>8.2f} "
                     f"{_ratio(bound, clairvoyant):>8.2f}")
    return "\n".join(lines)


def _ratio(cost: float, bound: float) -> float:
    return cost / bound if 0 < bound < math.inf else math.nan


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def headline(comparison: Comparison) -> str:
    trace = comparison.trace
    world = comparison.world
    signals = "ideal signals" if comparison.ideal_signals else "each system's own signal path"
    cluster = world.cluster
    if cluster is not None:
        signals = (f"kubernetes: pods of {cluster.workers_per_pod} worker"
                   f"{'s' if cluster.workers_per_pod > 1 else ''}, pod cold start "
                   f"{world.cold_start.mean_s:g} s, {signals} on a cluster")
    text = (f"{trace.name}: {len(trace)} requests over {trace.duration_s:.1f} s "
            f"({trace.mean_rate:.1f}/s), SLO {world.slo_s * 1000:g} ms, {signals}; "
            f"oracle window {comparison.oracle.window_s:g} s")
    if comparison.scored_from_s > 0:
        text += (f"; scored on the held-out part from {comparison.scored_from_s:g} s "
                 f"(settings tuned on the part before)")
    if trace.credit:
        text += f"\nTrace: {trace.credit}"
    return text


# ---------------------------------------------------------------------------------------------
# Figures


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_COLOURS = {"ebb": "#1b7837", "hpa": "#2166ac", "keda": "#762a83", "kpa": "#e08214",
            "ray": "#b2182b", "hpa-cpu": "#8c8c8c"}


def _colour(label: str) -> str:
    return _COLOURS.get(label.split()[0], "#555555")


def pareto_png(path: Path, comparison: Comparison, extra: Sequence[tuple[str, Summary]] = ()
               ) -> None:
    """Cost (worker-seconds) against SLO attainment, one point per policy and setting, with
    the oracle's curve as the frontier nobody can cross."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9.5, 5))
    oracle = comparison.oracle
    keep = oracle.attainment >= 0.5
    # markers too: an oracle of one point (a trace every window of which one count serves)
    # is otherwise an invisible line of length zero
    ax.plot(oracle.worker_seconds[keep], oracle.attainment[keep] * 100, color="black",
            linewidth=1.2, marker="s", markersize=7, markerfacecolor="none", zorder=4,
            label="ideal oracle (lower bound)")
    clairvoyant = comparison.clairvoyant_worker_seconds
    if math.isfinite(clairvoyant):
        ax.scatter(clairvoyant, comparison.target_attainment * 100, color="black",
                   marker="*", s=90, zorder=3, label="clairvoyant (pays cold starts)")
    for label, s in extra:
        ax.scatter(s.worker_seconds, s.slo_attainment * 100, color=_colour(label), alpha=0.25,
                   s=18, marker="o")
    for s in comparison.summaries:
        # named in the legend, not beside the point: points close together made labels overlap
        ax.scatter(s.worker_seconds, s.slo_attainment * 100, color=_colour(s.policy), s=60,
                   marker="D" if "tuned" in s.policy else "o", edgecolor="black", zorder=3,
                   label=f"{s.policy}: {s.worker_seconds:.0f} worker-s, "
                         f"{s.slo_attainment * 100:.2f} %")
    ax.axhline(comparison.target_attainment * 100, color="grey", linestyle=":", linewidth=1)
    lowest = min([s.slo_attainment for s in comparison.summaries] + [0.9])
    ax.set_ylim(max(0.0, lowest * 100 - 2), 100.5)
    ax.set_xlabel("worker-seconds (cost)")
    ax.set_ylabel(f"SLO attainment, % within {comparison.world.slo_s * 1000:g} ms")
    ax.set_title(f"Cost vs SLO attainment — {comparison.trace.name}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def timelines_png(path: Path, comparison: Comparison) -> None:
    """Arrival rate, queue depth, workers and p99 per window over time, one line per policy."""
    plt = _pyplot()
    trace = comparison.trace
    duration = max(trace.duration_s, 1e-9)
    fig, axes = plt.subplots(4, 1, figsize=(10, 9.5), sharex=True)
    cluster = comparison.world.cluster
    per_pod = cluster.workers_per_pod if cluster else 1
    bins = 200
    width = duration / bins
    counts, edges = np.histogram(trace.arrivals, bins=bins, range=(0.0, duration))
    axes[0].step(edges[:-1], counts / width, where="post", color="black", linewidth=0.9)
    axes[0].set_ylabel("arrivals / s")
    for run in comparison.runs:
        tl = run.timeline
        colour = _colour(run.policy)
        axes[1].plot(tl.times, tl.queue_depth, color=colour, linewidth=0.9, label=run.policy)
        axes[2].step(tl.times, (tl.starting + tl.ready + tl.draining) / per_pod, where="post",
                     color=colour, linewidth=0.9, label=run.policy)
        p99 = windowed_p99(trace.arrivals, run.latency_s, width, bins) * 1000
        p99 = np.where(np.isinf(p99), np.nan, p99)
        axes[3].step(edges[:-1], p99, where="post", color=colour, linewidth=0.9,
                     label=run.policy)
    oracle = comparison.oracle
    oracle_t = comparison.scored_from_s + np.arange(len(oracle.full_workers)) * oracle.window_s
    if comparison.scored_from_s > 0:
        for ax in axes:
            ax.axvline(comparison.scored_from_s, color="grey", linestyle="--", linewidth=0.8)
    axes[2].step(oracle_t, np.asarray(oracle.full_workers) / per_pod, where="post",
                 color="black", linestyle="--",
                 linewidth=0.8, label="oracle (all windows met)")
    axes[1].set_ylabel("queue depth")
    axes[2].set_ylabel("pods" if cluster else "workers")
    axes[3].set_ylabel("p99 ms (by arrival)")
    axes[3].set_yscale("log")
    axes[3].axhline(comparison.world.slo_s * 1000, color="grey", linestyle=":", linewidth=1)
    axes[3].set_xlabel("seconds")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[2].legend(loc="upper left", fontsize=8, ncol=3)
    fig.suptitle(headline(comparison).split("\n")[0], fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# HTML


def html_page(report: Report, images: Sequence[tuple[str, Path]]) -> str:
    """One self-contained page: parameters, results, the oracle's method, figures inline."""
    main = report.main
    esc = html.escape
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>ebb sim — {esc(main.trace.name)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
        "padding:0 1em;color:#222}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
        "img{max-width:100%}.credit{color:#555;font-size:90%}</style></head><body>",
        f"<h1>Scaling policies on {esc(main.trace.name)}</h1>",
        f"<p>{esc(headline(main).splitlines()[0])}</p>",
    ]
    if main.trace.credit:
        parts.append(f"<p class=credit>Trace: {esc(main.trace.credit)}</p>")
    parts.append("<h2>World</h2><table><tr><th>parameter</th><th>value</th></tr>")
    rows = _world_rows(report)
    parts += [f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in rows]
    parts.append("</table>")
    parts.append(_html_table(main, "Results"))
    if report.held_out is not None:
        parts.append(_html_table(report.held_out, "Held-out slice: defaults and tuned"))
        parts.append("<p>Tuned settings (chosen on the training slice, "
                     f"{len(report.tuned[0].training) if report.tuned else 0} settings per "
                     "policy):</p><ul>")
        parts += [f"<li>{esc(t.policy)}: {esc(t.setting)}</li>" for t in report.tuned]
        parts.append("</ul>")
    parts.append(
        "<h2>Oracle</h2><p>A lower bound on cost: the trace is cut into windows of "
        f"{main.oracle.window_s:g} s; each window is replayed alone on fixed worker counts "
        "(always ready, no cold start, empty queue) to count the requests meeting the SLO "
        "(simulated up to the count that meets them all, bounded from above below it); the "
        "cheapest choice of counts reaching the target attainment is found by the linear "
        "relaxation of that knapsack (upper concave hulls, steepest segments first). "
        "The clairvoyant bound gives every window the oracle's count at the target but pays "
        "as a real pool does: a worker costs from the moment it is ordered, is ready one cold "
        "start later and is held at least one cold start. See docs/simulator.md.</p>")
    for title, path in images:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        parts.append(f"<h2>{esc(title)}</h2><img alt='{esc(title)}' "
                     f"src='data:image/png;base64,{data}'>")
    parts.append(decisions_html(main))
    parts.append("</body></html>")
    return "\n".join(parts)


def _world_rows(report: Report) -> list[tuple[str, str]]:
    """The world's parameters and each policy's signal path, as (name, value) rows."""
    main = report.main
    world = main.world
    service = world.service
    rows = [
        ("service per batch", f"{service.fixed_s * 1000:g} ms + {service.per_item_s * 1000:g} "
                              f"ms x n{', size-scaled' if service.size_scaled else ''}"
                              f"{f', lognormal cv {service.cv:g}' if service.cv else ''}"),
        ("batching", f"up to {world.max_batch_size}, wait up to {world.max_delay_s * 1000:g} ms"),
        ("queue bound", str(world.queue_bound)),
        ("cold start", f"{world.cold_start.mean_s:g} s"
                       f"{f' (cv {world.cold_start.cv:g})' if world.cold_start.cv else ''}"),
        ("workers", f"{world.min_workers} to {world.max_workers}, start with "
                    f"{world.start_workers}"),
        ("seed", str(main.seed)),
    ]
    if world.cluster is not None:
        rows += [("world", f"kubernetes: pods of {world.cluster.workers_per_pod} workers, "
                           f"the cold start above is the pod's (scheduling, image pull, model "
                           f"load)")]
    rows += [(f"signals: {spec.title}",
              f"{pipeline.name}: {pipeline.describe()}")
             for spec in report.specs
             for pipeline in (pipeline_for(spec, main.ideal_signals, world.cluster),)]
    return rows


def _html_table(comparison: Comparison, title: str) -> str:
    esc = html.escape
    cluster = comparison.world.cluster
    pods = "<th>pod-s</th>" if cluster else ""
    rows = [f"<h2>{esc(title)}</h2><table><tr><th>policy</th><th>SLO attainment</th>"
            "<th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>rejected</th><th>worker-s</th>"
            f"{pods}<th>x ideal</th><th>x clairvoyant</th><th>scale events</th><th>flips</th>"
            "<th>recovery s</th>"
            "</tr>"]
    for s in comparison.summaries:
        recover = "-" if s.recovery_s is None else f"{s.recovery_s:.1f}"
        pod_s = f"<td>{s.pod_seconds or 0.0:.1f}</td>" if cluster else ""
        rows.append(
            f"<tr><td>{esc(s.policy)}</td><td>{s.slo_attainment * 100:.2f}%</td>"
            f"<td>{_ms(s.p50_ms)}</td><td>{_ms(s.p95_ms)}</td><td>{_ms(s.p99_ms)}</td>"
            f"<td>{s.rejected}</td><td>{s.worker_seconds:.1f}</td>{pod_s}"
            f"<td>{comparison.ratio_to_oracle(s):.2f}</td>"
            f"<td>{comparison.ratio_to_clairvoyant(s):.2f}</td><td>{s.scale_events}</td>"
            f"<td>{s.flips}</td><td>{recover}</td></tr>")
    ideal, clairvoyant = comparison.oracle_worker_seconds, comparison.clairvoyant_worker_seconds
    for name, bound in (("clairvoyant", clairvoyant), ("oracle (ideal)", ideal)):
        pod_s = f"<td>{bound / cluster.workers_per_pod:.1f}</td>" if cluster else ""
        rows.append(f"<tr><td>{name}</td><td>{comparison.target_attainment * 100:.2f}%</td>"
                    f"<td></td><td></td><td></td><td></td><td>{bound:.1f}</td>{pod_s}"
                    f"<td>{_ratio(bound, ideal):.2f}</td><td>{_ratio(bound, clairvoyant):.2f}"
                    "</td><td></td><td></td><td></td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def write_report(report: Report, out: Path) -> list[Path]:
    """Figures and the HTML page into `out`; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    pareto = out / "pareto.png"
    extra = [(spec.title, s) for t in report.tuned for spec, s in t.training]
    shown = report.held_out if report.held_out is not None else report.main
    pareto_png(pareto, shown, extra if report.held_out is None else ())
    timelines = out / "timelines.png"
    timelines_png(timelines, report.main)
    images = [("Cost vs SLO attainment", pareto), ("Timelines", timelines)]
    written = [pareto, timelines]
    if report.held_out is not None:
        held_timelines = out / "timelines-held-out.png"
        timelines_png(held_timelines, report.held_out)
        images.append(("Timelines, held-out slice", held_timelines))
        written.append(held_timelines)
    page = out / "report.html"
    page.write_text(html_page(report, images), encoding="utf-8")
    written.append(page)
    return written
