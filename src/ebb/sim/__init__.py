"""Trace-replay simulation: the same policies and batching rule as `ebb serve`, on a virtual
clock, against two bounds: the ideal oracle and the clairvoyant bound (which pays cold starts).

Data moves one way::

    trace ─▶ simulated queue + workers (engine) ─▶ production policies ─▶ summaries + oracle
                                                                        ─▶ table, JSON, plots

    result = compare(trace, world, [PolicySpec("ebb"), PolicySpec("hpa")], seed=0)

- `world` holds every assumption as a parameter (service, cold start, batching, queue bound,
  bounds) and each system's metrics pipeline (`PIPELINES`).
- `engine` simulates one policy; `oracle` computes the cheapest cost for each attainment with
  perfect knowledge (no cold start); `clairvoyant` pays its counts with cold starts and a
  minimum useful life; `compare` runs several policies beside both; `tune` grid-searches knobs with
  an equal budget; `report` draws and writes; `command` is `ebb sim`.
See docs/simulator.md for the world model and how the oracle is computed.
"""

from __future__ import annotations

from ebb.sim.compare import Comparison, compare
from ebb.sim.engine import Run, simulate, simulate_fixed, simulate_policy
from ebb.sim.metrics import Summary, summarise
from ebb.sim.oracle import Oracle, compute_oracle
from ebb.sim.world import (
    PIPELINES,
    ColdStart,
    Pipeline,
    PolicySpec,
    ServiceModel,
    World,
    fit_service,
)

__all__ = [
    "PIPELINES",
    "ColdStart",
    "Comparison",
    "Oracle",
    "Pipeline",
    "PolicySpec",
    "Run",
    "ServiceModel",
    "Summary",
    "World",
    "compare",
    "compute_oracle",
    "fit_service",
    "simulate",
    "simulate_fixed",
    "simulate_policy",
    "summarise",
]
