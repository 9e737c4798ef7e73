"""Simulator speed: simulated requests per second, per policy, on one core.

    .venv/bin/python bench/sim_speed.py            # table
    .venv/bin/python bench/sim_speed.py --profile  # where the time goes (cProfile, top 15)

Target (issue 4): at least 100,000 simulated requests per second per policy.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from ebb.sim.engine import simulate
from ebb.sim.world import PIPELINES, ColdStart, PolicySpec, ServiceModel, World
from ebb.traces import Trace, bursty, constant, synthetic


def _cases() -> list[tuple[str, Trace, World]]:
    batched = World(ServiceModel(0.02, 0.002, cv=0.2), ColdStart(5.0), slo_s=0.2,
                    max_workers=64, max_batch_size=32)
    unbatched = World(ServiceModel(0.02, 0.0, cv=0.2), ColdStart(5.0), slo_s=0.2,
                      max_workers=64, max_batch_size=1)
    return [
        ("constant 1000/s x 600 s, batch 32", constant(1000, 600, seed=1), batched),
        ("constant 1000/s x 600 s, no batching", constant(1000, 600, seed=1), unbatched),
        ("diurnal sine 500/s x 1 h, batch 32", synthetic("sine", 500, 3600, seed=1), batched),
        ("bursty 200/1200 /s x 600 s, no batching",
         bursty(200, 1200, 60, 15, 600, seed=1), unbatched),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if args.profile:
        name, trace, world = _cases()[1]
        profiler = cProfile.Profile()
        profiler.enable()
        simulate(trace, world, PolicySpec("ebb"), PIPELINES["ebb"], seed=0)
        profiler.disable()
        print(f"profile: ebb on {name}")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        return
    print(f"{'case':<42} {'policy':<6} {'requests':>9} {'seconds':>8} {'requests/s':>11}")
    for name, trace, world in _cases():
        for policy in PIPELINES:
            started = time.perf_counter()
            simulate(trace, world, PolicySpec(policy), PIPELINES[policy], seed=0)
            took = time.perf_counter() - started
            print(f"{name:<42} {policy:<6} {len(trace):>9} {took:>8.2f} "
                  f"{len(trace) / took:>11,.0f}")


if __name__ == "__main__":
    main()
