"""The simulator's comparison on the Azure conversation trace (two time compressions) and every
synthetic profile: Ebb vs the baselines, default and tuned, against both bounds (the ideal
oracle and the clairvoyant bound, see docs/simulator.md), with issue 13's targets checked row
by row.

    .venv/bin/python bench/sim_report.py                 # markdown tables on stdout
    .venv/bin/python bench/sim_report.py --out bench/results/sim   # plus HTML reports, JSON
    .venv/bin/python bench/sim_report.py --only step --no-tune     # one row, quickly

World (the same for every row): 20 ms per request, no batching (max batch 1), SLO 200 ms,
5 s cold start, 1 to 32 workers, queue bound 1024, seed 0. The Azure trace is compressed 20x
(110 requests/s on average) and 40x (220/s). Tuning: 12 settings per policy on the first half,
every policy (defaults and tuned) scored on the held-out second half.
Azure trace credit: Azure Public Dataset (Azure LLM inference trace 2023), CC-BY 4.0,
Patel et al., Splitwise, ISCA 2024.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ebb.sim.compare import Comparison, compare
from ebb.sim.metrics import Summary
from ebb.sim.report import Report, summary_json, write_report
from ebb.sim.tune import training_slice, tune
from ebb.sim.world import PIPELINES, ColdStart, PolicySpec, ServiceModel, World, warm_start
from ebb.traces import SYNTHETIC, Trace, read_trace, synthetic

AZURE = Path(__file__).resolve().parents[2] / "shared" / "traces" / "azure_llm_2023_conv.csv"
WORLD = World(ServiceModel(0.020, 0.0), ColdStart(5.0), slo_s=0.2, min_workers=1,
              max_workers=32, max_batch_size=1)
SPEEDUPS = (20, 40)
TARGET_ATTAINMENT = 0.99
TARGET_CLAIRVOYANT = 1.3
TARGET_IDEAL = 1.5
FORECAST = PolicySpec("ebb", {"forecast": True}, "ebb forecast")
"""Ebb with its forecast knob on, scored beside the default on the held-out half."""


def traces(only: set[str] | None) -> list[tuple[str, Trace]]:
    found = [(f"azure x{k}", read_trace(AZURE, speedup=k)) for k in SPEEDUPS
             if AZURE.exists()]
    found += [(name, synthetic(name, 100, 600, seed=0)) for name in SYNTHETIC]
    return [(key, trace) for key, trace in found if not only or key.split()[0] in only
            or key in only]


@dataclass(frozen=True)
class Row:
    """One trace: the whole-trace comparison of defaults, and the held-out one."""

    key: str
    whole: Comparison
    held: Comparison | None
    settings: dict[str, str]


def run_trace(key: str, trace: Trace, *, tuned: bool) -> Row:
    world = warm_start(WORLD, trace.arrivals, trace.duration_s)
    specs = [PolicySpec(name) for name in PIPELINES]
    whole = compare(trace, world, specs, seed=0)
    if not tuned:
        return Row(key, whole, None, {})
    training, cut = training_slice(trace, 0.5)
    chosen = [tune(training, world, spec.name, seed=0, ideal_signals=False,
                   target_attainment=TARGET_ATTAINMENT) for spec in specs]
    held_specs = [PolicySpec(s.name, {}, f"{s.name} default") for s in specs]
    held_specs += [t.chosen for t in chosen] + [FORECAST]
    held = compare(trace, world, held_specs, seed=0, score_from_s=cut)
    return Row(key, whole, held, {t.policy: t.setting for t in chosen})


def _summary(comparison: Comparison, label: str) -> Summary:
    return next(s for s in comparison.summaries if s.policy == label)


def dominators(comparison: Comparison, ebb: str) -> list[str]:
    """Policies both cheaper and with higher attainment than `ebb` on this comparison."""
    mine = _summary(comparison, ebb)
    return [s.policy for s in comparison.summaries
            if not s.policy.startswith("ebb") and s.worker_seconds < mine.worker_seconds
            and s.slo_attainment > mine.slo_attainment]


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 100:.2f} %"


def _num(value: float) -> str:
    return "-" if math.isnan(value) or math.isinf(value) else f"{value:.2f}"


def whole_table(rows: list[Row]) -> list[str]:
    lines = ["| trace | policy | attainment | worker-s | x ideal | x clairvoyant |",
             "|---|---|---:|---:|---:|---:|"]
    for row in rows:
        c = row.whole
        lines.append(f"| **{row.key}** | bounds at 99 % | | ideal {c.oracle_worker_seconds:.0f}, "
                     f"clairvoyant {c.clairvoyant_worker_seconds:.0f} | 1.00 | "
                     f"{_num(c.oracle_worker_seconds / c.clairvoyant_worker_seconds)} |")
        for s in c.summaries:
            name = f"**{s.policy}**" if s.policy == "ebb" else s.policy
            lines.append(f"| | {name} | {_pct(s.slo_attainment)} | {s.worker_seconds:.0f} | "
                         f"{_num(c.ratio_to_oracle(s))} | {_num(c.ratio_to_clairvoyant(s))} |")
    return lines


def held_table(rows: list[Row]) -> list[str]:
    lines = ["| trace (second half) | policy | default: attainment | default: x clairvoyant | "
             "tuned: attainment | tuned: x clairvoyant | tuned setting |",
             "|---|---|---:|---:|---:|---:|---|"]
    for row in rows:
        c = row.held
        if c is None:
            continue
        lines.append(f"| **{row.key}** | bounds | | clairvoyant "
                     f"{c.clairvoyant_worker_seconds:.0f} | | ideal "
                     f"{c.oracle_worker_seconds:.0f} | |")
        for name in PIPELINES:
            d, t = _summary(c, f"{name} default"), _summary(c, f"{name} tuned")
            lines.append(f"| | {name} | {_pct(d.slo_attainment)} | "
                         f"{_num(c.ratio_to_clairvoyant(d))} | {_pct(t.slo_attainment)} | "
                         f"{_num(c.ratio_to_clairvoyant(t))} | {row.settings[name]} |")
        f = _summary(c, FORECAST.title)
        lines.append(f"| | ebb, forecast on | {_pct(f.slo_attainment)} | "
                     f"{_num(c.ratio_to_clairvoyant(f))} | | | |")
    return lines


def targets(rows: list[Row]) -> list[str]:
    """Issue 13's targets for Ebb's defaults, row by row."""
    lines = ["| trace | attainment >= 99 % | x clairvoyant <= 1.3 | x ideal <= 1.5 | "
             "baselines cheaper and better (whole / held-out) |", "|---|---|---|---|---|"]
    for row in rows:
        c = row.whole
        s = _summary(c, "ebb")
        beat = dominators(c, "ebb")
        held = dominators(row.held, "ebb default") if row.held is not None else []
        lines.append(
            f"| {row.key} | {_mark(s.slo_attainment >= TARGET_ATTAINMENT)} "
            f"{_pct(s.slo_attainment)} | "
            f"{_mark(c.ratio_to_clairvoyant(s) <= TARGET_CLAIRVOYANT)} "
            f"{_num(c.ratio_to_clairvoyant(s))} | "
            f"{_mark(c.ratio_to_oracle(s) <= TARGET_IDEAL)} {_num(c.ratio_to_oracle(s))} | "
            f"{', '.join(beat) or 'none'} / {', '.join(held) or 'none'} |")
    return lines


def _mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="directory for HTML reports and JSON")
    parser.add_argument("--no-tune", action="store_true", help="defaults only, whole traces")
    parser.add_argument("--only", action="append", metavar="TRACE",
                        help="azure, 'azure x20', or a synthetic profile (repeatable)")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = []
    documents: dict[str, Any] = {}
    for key, trace in traces(set(args.only) if args.only else None):
        row = run_trace(key, trace, tuned=not args.no_tune)
        rows.append(row)
        specs = tuple(PolicySpec(name) for name in PIPELINES)
        documents[key] = {"defaults": summary_json(Report(row.whole, specs)),
                          "held_out": None if row.held is None else {
                              **summary_json(Report(row.held, ())),
                              "settings": row.settings}}
        if args.out is not None:
            write_report(Report(row.whole, specs), args.out / key.replace(" ", "-"))
        print(f"({key}: {time.perf_counter() - started:.0f} s)", flush=True)
    print("\n".join(["", *whole_table(rows), "", *held_table(rows), "", *targets(rows)]))
    print(f"\n({time.perf_counter() - started:.0f} s for the whole table)")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "summary.json").write_text(json.dumps(documents, indent=2))


if __name__ == "__main__":
    main()
