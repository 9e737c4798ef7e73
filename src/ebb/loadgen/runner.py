"""``run_load``: one load run from a validated config to a result, in-process.

Benchmarks and tests call it directly; the ``ebb load`` command is a thin shell around it::

    result = await run_load(config)
    print(result.summary.p99_s, result.summary.rejected)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ebb.loadgen.client import InferClient
from ebb.loadgen.config import LoadConfig
from ebb.loadgen.dispatch import drive
from ebb.loadgen.grpc_client import GrpcClient, fetch_grpc_specs
from ebb.loadgen.http1 import ClientContext, client_context
from ebb.loadgen.payload import (
    grpc_request,
    inputs_from_file,
    random_inputs,
    rest_body,
)
from ebb.loadgen.poller import MetricsPoller
from ebb.loadgen.progress import Progress, ProgressTracker
from ebb.loadgen.recorder import Recording
from ebb.loadgen.rest_client import RestClient, fetch_rest_specs
from ebb.loadgen.stats import GaugeSamples, Summary, Timeline, summarize, timeline

_LEAD_S = 0.05  # second 0 starts this long after set-up, so the first sends are not late
_PROGRESS_EVERY_S = 1.0


@dataclass(frozen=True)
class LoadResult:
    config: LoadConfig
    summary: Summary
    timeline: Timeline
    gauges: GaugeSamples
    """Every successful /metrics scrape (about two a second), for finer plots than the timeline."""
    metrics_failures: int
    """Scrapes that failed; with no gauges at all, ``metrics_note`` says why."""
    metrics_note: str
    stopped_early: bool
    origin_unix: float = 0.0
    """Wall-clock time (Unix seconds) of the schedule's time 0, to line runs up with server logs."""


async def open_client(config: LoadConfig) -> InferClient:
    """The request is built once here: from --input-json, or random from the model's metadata."""
    if config.input_json is not None:
        body, inputs = inputs_from_file(config.input_json, config.model)
    else:
        if config.url is not None:
            specs = await fetch_rest_specs(config.url, config.model, config.timeout_s,
                                           _tls_context(config))
        else:
            assert config.grpc_target is not None
            specs = await fetch_grpc_specs(config.grpc_target, config.model, config.timeout_s,
                                           config.tls)
        inputs = random_inputs(specs, np.random.default_rng(config.seed))
        body = rest_body(inputs)
    if config.grpc_target is not None:
        client = GrpcClient(config.grpc_target, grpc_request(config.model, inputs), config.tls)
        try:
            await client.connect(config.timeout_s)
        except BaseException:
            await client.close()
            raise
        return client
    assert config.url is not None
    return RestClient(config.url, config.model, body, _tls_context(config))


def _tls_context(config: LoadConfig) -> ClientContext:
    tls = config.tls
    return client_context(tls.ca_file, tls.cert_file, tls.key_file)


async def run_load(config: LoadConfig, *, progress: Callable[[Progress], None] | None = None,
                   stop: asyncio.Event | None = None) -> LoadResult:
    """Run the schedule against the server. ``progress`` is called about once a second;
    setting ``stop`` ends the run early (outstanding requests still get their answers)."""
    client = await open_client(config)
    try:
        return await run_with_client(config, client, progress=progress, stop=stop)
    finally:
        await client.close()


async def run_with_client(config: LoadConfig, client: InferClient, *,
                          progress: Callable[[Progress], None] | None,
                          stop: asyncio.Event | None) -> LoadResult:
    """``run_load`` with the client given (a ``FakeClient`` in tests)."""
    loop = asyncio.get_running_loop()
    recording = Recording(config.schedule.arrivals)
    stop = stop or asyncio.Event()
    origin = 0.0

    def now() -> float:
        return loop.time() - origin

    poller = None
    if config.metrics_url is not None:
        poller = MetricsPoller(config.metrics_url, config.model, config.metrics_interval_s, now,
                               _tls_context(config))
    origin = loop.time() + _LEAD_S
    origin_unix = time.time() + _LEAD_S
    background: list[asyncio.Task[None]] = []
    if poller is not None:
        background.append(loop.create_task(poller.run()))
    if progress is not None:
        background.append(loop.create_task(_report_progress(recording, poller, now, progress)))
    try:
        dispatched = await drive(recording, client, origin=origin,
                                 concurrency_limit=config.concurrency_limit,
                                 timeout_s=config.timeout_s, stop=stop)
    finally:
        for task in background:
            task.cancel()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if poller is not None:
            await poller.close()
    stopped_early = recording.stopped_at is not None
    duration_s = config.schedule.duration_s
    if recording.stopped_at is not None:
        duration_s = min(duration_s, max(recording.stopped_at, 1e-9))
    recording = recording.truncate(dispatched)
    gauges = poller.samples() if poller else GaugeSamples.empty()
    arrays = (recording.scheduled, recording.sent_at, recording.done_at, recording.outcome)
    note = ""
    if poller is not None and len(gauges.t) == 0:
        note = f"no /metrics scrape succeeded ({poller.failures} tried: {poller.last_failure})"
    return LoadResult(
        config=config,
        summary=summarize(*arrays, duration_s=duration_s, slo_s=config.slo_s,
                          details=recording.details.most_common(3)),
        timeline=timeline(*arrays, gauges=gauges, duration_s=duration_s),
        gauges=gauges, metrics_failures=poller.failures if poller else 0,
        metrics_note=note, stopped_early=stopped_early, origin_unix=origin_unix,
    )


async def _report_progress(recording: Recording, poller: MetricsPoller | None,
                           now: Callable[[], float], progress: Callable[[Progress], None]
                           ) -> None:
    tracker = ProgressTracker()
    while True:
        await asyncio.sleep(_PROGRESS_EVERY_S)
        progress(tracker.snapshot(recording, now(), poller.latest if poller else None))
