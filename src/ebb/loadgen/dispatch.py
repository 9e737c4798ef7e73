"""The open-loop dispatcher: send each arrival at its time, whether or not earlier ones answered.

Arrivals that fall due together (the loop woke late, or the rate is high) are all sent in the
same pass. When ``concurrency_limit`` requests are already outstanding, an arrival is counted as
client-dropped instead of waiting, so the schedule, and the load it describes, never bends to
the server's speed. After the last arrival, outstanding requests get their timeout (plus a short
grace) to finish; any still running then are cancelled and counted as timeouts.
"""

from __future__ import annotations

import asyncio

from ebb.loadgen.client import InferClient, Outcome
from ebb.loadgen.recorder import Recording

_GRACE_S = 1.0
_MAX_NAP_S = 0.1  # how long the dispatcher sleeps at most before looking at ``stop`` again


async def drive(recording: Recording, client: InferClient, *, origin: float,
                concurrency_limit: int, timeout_s: float, stop: asyncio.Event) -> int:
    """Run the schedule in ``recording`` against ``client``; ``origin`` is the loop time of
    second 0. Returns how many arrivals were dispatched (fewer than scheduled if ``stop`` was
    set)."""
    loop = asyncio.get_running_loop()
    scheduled = recording.scheduled
    count = len(scheduled)
    outstanding: dict[asyncio.Task[None], int] = {}

    async def send(index: int) -> None:
        try:
            outcome, detail = await client.infer(timeout_s)
        except Exception as error:  # a client bug must cost one request, not the run
            outcome, detail = Outcome.ERROR, f"{type(error).__name__}: {error}"
        recording.finish(index, loop.time() - origin, outcome, detail)

    index = 0
    try:
        while index < count and not stop.is_set():
            now = loop.time() - origin
            if scheduled[index] > now:
                await asyncio.sleep(min(scheduled[index] - now, _MAX_NAP_S))
                continue
            while index < count and scheduled[index] <= now:
                if len(outstanding) >= concurrency_limit:
                    recording.mark_dropped(index, now)
                else:
                    recording.mark_sent(index, now)
                    task = loop.create_task(send(index))
                    outstanding[task] = index
                    task.add_done_callback(outstanding.pop)
                index += 1
        if index < count:
            recording.stopped_at = loop.time() - origin
        if outstanding:
            await asyncio.wait(list(outstanding), timeout=timeout_s + _GRACE_S)
    finally:
        stragglers = {task: index for task, index in outstanding.items() if not task.done()}
        for task in stragglers:
            task.cancel()
        if stragglers:
            await asyncio.wait(list(stragglers))
        now = loop.time() - origin
        for straggler in stragglers.values():
            recording.finish(straggler, now, Outcome.TIMEOUT, "cancelled at the end of the run")
    return index
