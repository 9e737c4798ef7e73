from __future__ import annotations

from ebb.autoscale.sources.counters import GatewayCounters
from ebb.dashboard.feed import DashboardFeed, DecisionView


def _counters(arrivals: int, depth: int = 0) -> GatewayCounters:
    return GatewayCounters(queue_depth=depth, inflight=1, starting=0, ready=2,
                           arrivals=arrivals, completions=arrivals, batches=1, batch_seconds=0.1)


def test_feed_turns_counters_and_latencies_into_per_second_samples() -> None:
    feed = DashboardFeed("m", started_at=100.0)
    feed.tick(101.0, _counters(0), rejections=0, desired=2)
    for ms in range(1, 101):
        feed.reservoir.add(ms / 1000, 200)
    feed.reservoir.add(0.5, 503)
    feed.reservoir.add_waits([0.01, 0.03])
    snapshot = feed.tick(102.0, _counters(50, depth=7), rejections=4, desired=3)
    assert snapshot is not None
    assert snapshot.arrival_rate == 50.0 and snapshot.error_ratio == 1 / 101
    assert snapshot.queue_wait == 0.02 and 0.09 < snapshot.latency < 0.5
    feed.add_anomaly(102.0, {"latency": (1.5, False)})
    data = feed.data("ebb", 100.0, [DecisionView(101.5, "ebb", 2, 3, "queue 7")])
    assert data["anomaly"] == {"t": [2.0], "scores": {"latency": [1.5]}}
    timeline = data["timeline"]
    assert timeline["t"] == [2.0]
    assert timeline["arrival_rate"] == [50.0]
    assert timeline["answer_rate"] == [101.0]
    assert timeline["error_rate"] == [1.0]
    assert timeline["rejection_rate"] == [4.0]
    assert timeline["queue_depth"] == [7] and timeline["desired"] == [3]
    assert 49 <= timeline["p50_ms"][0] <= 52
    assert data["decisions"] == [{"t": 1.5, "policy": "ebb", "from": 2, "to": 3,
                                  "reason": "queue 7"}]


def test_feed_gives_the_wall_clock_start_so_the_page_shows_clock_times() -> None:
    feed = DashboardFeed("m", started_at=100.0, wall_started_at=1_700_000_000.0)
    data = feed.data(None, 100.0, [DecisionView(104.5, "ebb", 1, 2, "queue")])
    assert data["started_at"] == 1_700_000_000.0
    assert data["decisions"][0]["t"] == 4.5  # the page shows started_at + t as a clock time
