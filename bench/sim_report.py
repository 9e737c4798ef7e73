"""The simulator's comparison on the Azure conversation trace and every synthetic profile:
Ebb vs the baselines vs the oracle, with each system's own signal path, with ideal signals,
and tuned (grid on the first half, scored on the second).

    .venv/bin/python bench/sim_report.py                 # markdown table on stdout
    .venv/bin/python bench/sim_report.py --out bench/results/sim   # plus HTML reports

World (the same for every row): 20 ms per request, no batching (max batch 1), SLO 200 ms,
5 s cold start, 1 to 32 workers, queue bound 1024, seed 0. The Azure trace is compressed 20x
(110 requests/s on average) so it needs several workers.
Azure trace credit: Azure Public Dataset (Azure LLM inference trace 2023), CC-BY 4.0,
Patel et al., Splitwise, ISCA 2024.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from ebb.sim.compare import Comparison, compare
from ebb.sim.report import Report, summary_json, write_report
from ebb.sim.tune import training_slice, tune
from ebb.sim.world import PIPELINES, ColdStart, PolicySpec, ServiceModel, World, warm_start
from ebb.traces import SYNTHETIC, Trace, read_trace, synthetic

AZURE = Path(__file__).resolve().parents[2] / "shared" / "traces" / "azure_llm_2023_conv.csv"
WORLD = World(ServiceModel(0.020, 0.0), ColdStart(5.0), slo_s=0.2, min_workers=1,
              max_workers=32, max_batch_size=1)


def traces() -> list[Trace]:
    found = [read_trace(AZURE, speedup=20)] if AZURE.exists() else []
    return found + [synthetic(name, 100, 600, seed=0) for name in SYNTHETIC]


def _cell(comparison: Comparison, label: str) -> tuple[float, float, float]:
    summary = next(s for s in comparison.summaries if s.policy == label)
    return (summary.slo_attainment, summary.worker_seconds,
            comparison.ratio_to_oracle(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, help="directory for HTML reports and JSON")
    parser.add_argument("--no-tune", action="store_true")
    args = parser.parse_args()
    specs = [PolicySpec(name) for name in PIPELINES]
    rows = []
    documents = {}
    started = time.perf_counter()
    for trace in traces():
        world = warm_start(WORLD, trace.arrivals, trace.duration_s)
        real = compare(trace, world, specs, seed=0)
        ideal = compare(trace, world, specs, seed=0, ideal_signals=True)
        held = None
        tuned = ()
        if not args.no_tune:
            training, cut = training_slice(trace, 0.5)
            tuned = tuple(tune(training, world, spec.name, seed=0, ideal_signals=False,
                               target_attainment=0.99) for spec in specs)
            held = compare(trace, world, [t.chosen for t in tuned], seed=0, score_from_s=cut)
        documents[trace.name] = {
            "own_pipelines": summary_json(Report(real, tuple(specs))),
            "ideal_signals": summary_json(Report(ideal, tuple(specs))),
            "tuned_held_out": None if held is None else {
                **summary_json(Report(held, tuple(t.chosen for t in tuned))),
                "settings": {t.policy: t.setting for t in tuned}},
        }
        if args.out is not None:
            slug = trace.name.split()[0].replace(".csv", "")
            write_report(Report(real, tuple(specs)), args.out / slug)
            write_report(Report(ideal, tuple(specs)), args.out / f"{slug}-ideal")
        for spec in specs:
            a, c, r = _cell(real, spec.name)
            ia, _, ir = _cell(ideal, spec.name)
            ta, tr = math.nan, math.nan
            setting = ""
            if held is not None:
                ta, _, tr = _cell(held, f"{spec.name} tuned")
                setting = next(t.setting for t in tuned if t.policy == spec.name)
            rows.append((trace.name, spec.name, a, c, r, ia, ir, ta, tr,
                         held.oracle_worker_seconds if held is not None else math.nan,
                         real.oracle_worker_seconds, setting))
    elapsed = time.perf_counter() - started
    print("| trace | policy | attainment | worker-s | x oracle | ideal: attainment | "
          "ideal: x oracle | tuned (held-out): attainment | tuned: x oracle |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    last = ""
    for (name, policy, a, c, r, ia, ir, ta, tr, _, oracle, _) in rows:
        if name != last:
            print(f"| **{name}** | oracle | 99.00 % | {oracle:.0f} | 1.00 | | | | |")
            last = name
        print(f"| | {policy} | {a * 100:.2f} % | {c:.0f} | {r:.2f} | {ia * 100:.2f} % | "
              f"{ir:.2f} | {_pct(ta)} | {_num(tr)} |")
    print(f"\n({elapsed:.0f} s for the whole table)")
    if not args.no_tune:
        print("\nTuned settings:")
        seen = set()
        for (name, policy, *_rest, setting) in rows:
            if (name, policy) not in seen:
                seen.add((name, policy))
                print(f"- {name}: {setting}")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "summary.json").write_text(json.dumps(documents, indent=2))


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 100:.2f} %"


def _num(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


if __name__ == "__main__":
    main()
