"""The open-loop dispatcher against the in-package FakeClient (no sockets, well under a second)."""

from __future__ import annotations

import asyncio

import numpy as np

from ebb.loadgen.client import FakeClient, Outcome
from ebb.loadgen.dispatch import drive
from ebb.loadgen.recorder import Recording


async def _drive(arrivals: list[float], client: FakeClient | _Broken, *, limit: int = 100,
                 timeout_s: float = 5.0, stop: asyncio.Event | None = None
                 ) -> tuple[Recording, int]:
    recording = Recording(np.array(arrivals))
    origin = asyncio.get_running_loop().time()
    dispatched = await drive(recording, client, origin=origin, concurrency_limit=limit,
                             timeout_s=timeout_s, stop=stop or asyncio.Event())
    return recording, dispatched


async def test_arrivals_do_not_wait_for_answers() -> None:
    client = FakeClient(service_s=0.02, slots=1, max_queue=100)
    arrivals = [i * 0.005 for i in range(20)]
    recording, dispatched = await _drive(arrivals, client)
    assert dispatched == 20
    assert np.all(recording.outcome == Outcome.ANSWERED)
    lag = recording.sent_at - recording.scheduled
    assert lag.max() < 0.05  # sent on schedule although answers take 20 ms each, one at a time
    latency = recording.answered_latencies()
    assert latency[-1] > latency[0] + 0.2  # the single slot's queue is seen as latency


async def test_arrivals_beyond_the_outstanding_cap_are_dropped_not_delayed() -> None:
    client = FakeClient(service_s=0.2, slots=10, max_queue=0)
    recording, _ = await _drive([0.0] * 3 + [0.01] * 7, client, limit=3)
    assert client.calls == 3
    assert recording.counts[Outcome.DROPPED] == 7
    assert recording.counts[Outcome.ANSWERED] == 3
    assert np.all(np.isnan(recording.sent_at[3:]))


async def test_rejections_and_timeouts_are_told_apart() -> None:
    full = FakeClient(service_s=0.01, slots=1, max_queue=2)
    recording, _ = await _drive([0.0] * 10, full)
    assert recording.counts[Outcome.ANSWERED] == 3
    assert recording.counts[Outcome.REJECTED] == 7
    slow = FakeClient(service_s=1.0, slots=1, max_queue=0)
    recording, _ = await _drive([0.0], slow, timeout_s=0.05)
    assert recording.counts[Outcome.TIMEOUT] == 1
    assert recording.done_at[0] < 0.5


class _Broken:
    async def infer(self, timeout_s: float) -> tuple[Outcome, str]:
        raise RuntimeError("client bug")

    async def close(self) -> None:
        return None


async def test_a_raising_client_costs_one_request_each_not_the_run() -> None:
    recording, dispatched = await _drive([0.0, 0.01], _Broken())
    assert dispatched == 2
    assert recording.counts[Outcome.ERROR] == 2
    assert recording.details["RuntimeError: client bug"] == 2


async def test_stop_ends_the_schedule_and_waits_for_outstanding_answers() -> None:
    client = FakeClient(service_s=0.05, slots=10, max_queue=0)
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.1, stop.set)
    recording, dispatched = await _drive([0.0, 0.05, 5.0, 6.0], client, stop=stop)
    assert dispatched == 2
    assert recording.stopped_at is not None and 0.1 <= recording.stopped_at < 0.3
    assert list(recording.outcome[:2]) == [Outcome.ANSWERED, Outcome.ANSWERED]
    assert recording.truncate(dispatched).scheduled.tolist() == [0.0, 0.05]
