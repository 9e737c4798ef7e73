"""The simulator runs the live control loop and the live drain order, not copies of them.

Decisions: the same counters read by the live in-process source and applied by the local
actuator inside an event loop, and read through the simulator's scraped source and applied to
simulated workers with ``run_sync``, give the same decisions tick by tick. Drains: given the
same workers, ``WorkerPool.remove`` and the simulator's actuator drain the same ones.
"""

from __future__ import annotations

import random
from typing import Any, cast

import numpy as np
import pytest

from ebb.autoscale.actuators.local import LocalActuator
from ebb.autoscale.controller import Controller, DecisionRecord, NullControllerObserver
from ebb.autoscale.policies import Limits, build_policy
from ebb.autoscale.sources.counters import GatewayCounters
from ebb.autoscale.sources.inprocess import InProcessSource
from ebb.core.clock import FakeClock
from ebb.core.coro import run_sync
from ebb.core.types import ModelMetadata
from ebb.serving.workers import WorkerHandle, WorkerPool, WorkerState
from ebb.sim.control import FleetActuator, ScrapedSignals, VirtualClock
from ebb.sim.fleet import BUSY, DRAINING, STOPPED, Fleet
from ebb.sim.world import ColdStart, Pipeline

TICK_S = 0.5
SLO_S = 0.2
DEPTHS = [0, 5, 40, 120, *[300] * 60, 260, 180, 90, 30, 8, 2, *[0] * 120]
"""Requests waiting at each tick: a burst of half a minute that comes and goes."""


def _counters(tick: int, workers: int) -> GatewayCounters:
    """What the gateway's counters read at `tick` with `workers` ready workers."""
    depth = DEPTHS[tick]
    arrivals = sum(DEPTHS[:tick + 1]) * 3
    batches = tick * 4
    return GatewayCounters(queue_depth=depth, inflight=min(depth, workers * 4), starting=0,
                           ready=workers, arrivals=arrivals, completions=batches * 4,
                           batches=batches, batch_seconds=batches * 0.03)


def _policy(name: str) -> Any:
    return build_policy(name, {}, Limits(1, 16), scale_in_delay_s=3.0)


async def _live(name: str) -> list[DecisionRecord]:
    """`ebb serve`'s way: in-process source, local actuator, awaited in an event loop."""
    clock = FakeClock()
    workers = [1]
    tick = [0]
    source = InProcessSource(lambda: _counters(tick[0], workers[0]), SLO_S, window_s=5.0)
    actuator = LocalActuator(lambda desired: workers.__setitem__(0, desired))
    controller = Controller("m", _policy(name), source, actuator, TICK_S,
                            NullControllerObserver(), clock)
    records = []
    for tick[0] in range(len(DEPTHS)):
        records.append(await controller.step())
        clock.advance(TICK_S)
    return records


def _simulated(name: str) -> list[DecisionRecord]:
    """The simulator's way: scraped source, simulated workers, driven with `run_sync`."""
    clock = VirtualClock()
    fleet = Fleet(ColdStart(0.0), np.random.default_rng(0))
    fleet.add(0.0, ready=True)
    source = ScrapedSignals(Pipeline("in-process", TICK_S, TICK_S, 0.0, 5.0), SLO_S, fleet)
    controller = Controller("m", _policy(name), source, FleetActuator(fleet, clock), TICK_S,
                            NullControllerObserver(), clock)
    records = []
    for tick in range(len(DEPTHS)):
        clock.time = tick * TICK_S
        source.scrape(clock.time, _counters(tick, fleet.ready_count))
        records.append(run_sync(controller.step()))
    return records


@pytest.mark.parametrize("name", ["ebb", "hpa", "kpa", "ray"])
async def test_simulated_and_live_controllers_decide_alike(name: str) -> None:
    live = await _live(name)
    simulated = _simulated(name)
    assert simulated == live
    directions = {record.direction for record in live}
    assert "up" in directions
    assert "down" in directions or name in ("hpa", "ray")  # their scale-in waits minutes


def _pool() -> WorkerPool:
    metadata = ModelMetadata("m", (), (), max_batch_size=8)
    return WorkerPool("m", cast(Any, None), metadata, cast(Any, None), cast(Any, None),
                      cast(Any, None), None)


def _same_workers(kinds: list[str]) -> tuple[WorkerPool, list[WorkerHandle], Fleet]:
    """A pool without processes and a simulated fleet holding the same workers, oldest first:
    each "starting", "idle", "busy", "draining" or "stopped"."""
    pool = _pool()
    fleet = Fleet(ColdStart(5.0), np.random.default_rng(0))
    handles = []
    for index, kind in enumerate(kinds):
        handle = WorkerHandle(pool)
        handle.started_at = 1000.0 + index
        handle.state = {"starting": WorkerState.STARTING, "draining": WorkerState.DRAINING,
                        "stopped": WorkerState.STOPPED}.get(kind, WorkerState.READY)
        handle.busy = kind in ("busy", "draining")
        pool.workers.append(handle)
        handles.append(handle)
        fleet.add(float(index), ready=kind != "starting")
        if kind in ("busy", "draining", "stopped"):
            fleet.idle.remove(index)
            fleet.state[index] = {"busy": BUSY, "draining": DRAINING}.get(kind, STOPPED)
            fleet.busy += kind == "busy"
            fleet.draining += kind == "draining"
    return pool, handles, fleet


def _drained_by_pool(kinds: list[str], count: int) -> list[int]:
    pool, handles, _ = _same_workers(kinds)
    before = {h.id for h in handles if h.state is WorkerState.DRAINING}
    assert pool.remove(count) == min(count, sum(k in ("starting", "idle", "busy")
                                                 for k in kinds))
    return [i for i, h in enumerate(handles)
            if h.state is WorkerState.DRAINING and h.id not in before]


def _drained_by_simulator(kinds: list[str], count: int) -> list[int]:
    _, _, fleet = _same_workers(kinds)
    before = [fleet.state[i] for i in range(len(kinds))]
    active = len(fleet.starting) + len(fleet.idle) + fleet.busy
    run_sync(FleetActuator(fleet, VirtualClock()).apply(max(active - count, 0)))
    return [i for i in range(len(kinds))
            if fleet.state[i] in (STOPPED, DRAINING) and fleet.state[i] != before[i]]


def test_pool_and_simulator_drain_the_same_workers() -> None:
    kinds = ["busy", "idle", "starting", "idle", "busy", "draining", "starting", "idle",
             "stopped", "busy"]
    for count in range(len(kinds) + 1):
        assert _drained_by_simulator(kinds, count) == _drained_by_pool(kinds, count), count
    # starting first, newest first; then idle; then busy
    assert _drained_by_pool(kinds, 6) == [1, 2, 3, 6, 7, 9]


def test_pool_and_simulator_agree_on_random_workers() -> None:
    shuffle = random.Random(7)
    for _ in range(50):
        kinds = [shuffle.choice(["starting", "idle", "busy", "draining", "stopped"])
                 for _ in range(shuffle.randint(1, 12))]
        count = shuffle.randint(0, len(kinds))
        assert _drained_by_simulator(kinds, count) == _drained_by_pool(kinds, count), kinds
