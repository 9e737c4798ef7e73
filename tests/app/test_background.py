"""Background loops under one stopping event; observers fanned out; dashboard routes."""

from __future__ import annotations

import asyncio

import numpy as np

from ebb.anomaly import ModelWatch
from ebb.app.background import Background
from ebb.app.observers import DashboardRecorder, DriftRecorder, FanOut
from ebb.autoscale.controller import DecisionRecord
from ebb.dashboard.feed import DashboardFeed
from ebb.dashboard.routes import dashboard_routes
from ebb.serving.stats import NullObserver


async def test_one_event_stops_every_loop_and_a_failed_loop_is_contained() -> None:
    background = Background()
    ticks: list[str] = []

    async def loop(name: str) -> None:
        while not background.stopping.is_set():
            ticks.append(name)
            await asyncio.sleep(0.001)

    async def broken() -> None:
        raise RuntimeError("boom")

    background.spawn(loop("a"), "a")
    background.spawn(loop("b"), "b")
    background.spawn(broken(), "broken")
    await asyncio.sleep(0.01)
    await asyncio.wait_for(background.stop(), 1.0)
    assert {"a", "b"} <= set(ticks)


class _Counting(NullObserver):
    def __init__(self) -> None:
        self.requests: list[int] = []
        self.restarts = 0

    def request_done(self, model: str, protocol: str, code: int, seconds: float) -> None:
        self.requests.append(code)

    def worker_restarted(self, model: str) -> None:
        self.restarts += 1


def test_fan_out_reaches_every_observer() -> None:
    first, second = _Counting(), _Counting()
    feeds = {"m": DashboardFeed("m", 0.0)}
    watches = {"m": ModelWatch()}
    fan = FanOut((first, second, DashboardRecorder(feeds), DriftRecorder(watches)))
    fan.request_done("m", "rest", 200, 0.01)
    fan.request_done("m", "grpc", 503, 0.02)
    fan.worker_restarted("m")
    fan.batch_done("m", 2, 2, 0.01, [0.001, 0.002])
    fan.batch_sample("m", {"x": np.ones((1, 4), np.float32)}, {"y": np.ones(1, np.float32)})
    assert first.requests == second.requests == [200, 503]
    assert first.restarts == second.restarts == 1
    drained = feeds["m"].reservoir.drain()
    assert drained.answers == 2 and drained.errors == 1


async def test_dashboard_data_picks_the_model_from_the_query_string() -> None:
    feeds = {"a": DashboardFeed("a", 0.0), "b": DashboardFeed("b", 0.0)}
    decisions = {"b": (DecisionRecord(3.0, "ebb", 1, 2, "queue 9 -> 2", 9),)}
    routes = dashboard_routes(feeds, lambda name: decisions.get(name, ()), "ebb", 100.0)
    status, _, body = await routes["/dashboard/data"]({"query_string": b"model=b&x=1"})
    assert status == 200 and b'"model":"b"' in body and b"queue 9 -> 2" in body
    _, _, body = await routes["/dashboard/data"]({"query_string": b"model=nope"})
    assert b'"model":"a"' in body
    status, _, _ = await routes["/dashboard/static/dashboard.js"](
        {"path": "/dashboard/static/dashboard.js"})
    assert status == 200
