"""The controller on a fake clock: signals in, decisions applied, reasons kept."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from ebb.autoscale.controller import Controller
from ebb.autoscale.sources.counters import GatewayCounters, RateWindow
from ebb.autoscale.types import ScalingDecision, ScalingInput
from ebb.core.clock import FakeClock
from ebb.core.coro import WouldBlock, run_sync


@dataclass(frozen=True)
class QueuePerWorker:
    """A toy policy: one worker per 10 queued requests, at least one."""

    name: str = "toy"

    def initial_state(self) -> None:
        return None

    def decide(self, signal: ScalingInput, state: None) -> tuple[ScalingDecision, None]:
        wanted = max(1, -(-signal.queue_depth // 10))
        return ScalingDecision(wanted, f"queue {signal.queue_depth} -> {wanted}"), None


@dataclass
class ScriptedGateway:
    depth: int = 0
    workers: int = 1
    applied: list[int] = field(default_factory=list)

    async def read(self, now: float) -> ScalingInput:
        return ScalingInput(now, self.workers, self.workers, 0, self.depth, 0, 0.0, 0.0, 0.0,
                            1.0, 0.1)

    async def apply(self, desired_workers: int) -> None:
        self.applied.append(desired_workers)
        self.workers = desired_workers


@dataclass
class Recorder:
    calls: list[tuple[str, int]] = field(default_factory=list)

    def decided(self, model: str, policy: str, direction: str, current: int,
                desired: int) -> None:
        self.calls.append((direction, desired))


def test_controller_applies_changes_only_and_keeps_reasons() -> None:
    clock = FakeClock()
    gateway = ScriptedGateway()
    recorder = Recorder()
    controller = Controller("m", QueuePerWorker(), gateway, gateway, 0.5, recorder, clock)
    for depth in (0, 35, 35, 12, 0):
        gateway.depth = depth
        run_sync(controller.step())
        clock.advance(0.5)
    assert gateway.applied == [4, 2, 1]
    assert [d for d, _ in recorder.calls] == ["hold", "up", "hold", "down", "down"]
    assert [(r.at, r.desired, r.reason) for r in controller.history] == [
        (0.5, 4, "queue 35 -> 4"), (1.5, 2, "queue 12 -> 2"), (2.0, 1, "queue 0 -> 1")]


def test_rate_window_derives_rates_and_service_time() -> None:
    window = RateWindow(window_s=2.0)
    base = GatewayCounters(queue_depth=3, inflight=1, starting=1, ready=2, arrivals=100,
                           completions=90, batches=30, batch_seconds=0.6)
    first = window.observe(10.0, base, 0.2)
    assert first.arrival_rate == 0 and first.service_time_s == 0 and first.mean_batch_size == 1
    later = GatewayCounters(queue_depth=5, inflight=2, starting=0, ready=3, arrivals=160,
                            completions=140, batches=40, batch_seconds=1.0)
    signal = window.observe(11.0, later, 0.2)
    assert signal.arrival_rate == 60 and signal.completion_rate == 50
    assert signal.service_time_s == 0.04 and signal.mean_batch_size == 5
    assert signal.current_workers == 3 and signal.queue_depth == 5 and signal.slo_s == 0.2


async def test_controller_runs_on_a_loop_until_stopped() -> None:
    """The live host: ``run`` ticks on the event loop and stops when told, mid-wait."""
    clock = FakeClock()
    gateway = ScriptedGateway(depth=35)
    controller = Controller("m", QueuePerWorker(), gateway, gateway, 0.01, Recorder(), clock)
    stopping = asyncio.Event()
    task = asyncio.create_task(controller.run(stopping))
    while not gateway.applied:
        await asyncio.sleep(0.005)
    stopping.set()
    await asyncio.wait_for(task, 1.0)
    assert gateway.applied == [4]


def test_run_sync_refuses_a_coroutine_that_suspends() -> None:
    async def waits() -> None:
        await asyncio.sleep(0)

    with pytest.raises(WouldBlock):
        run_sync(waits())
