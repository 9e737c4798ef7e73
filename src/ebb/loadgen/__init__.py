"""``ebb load``: an open-loop load generator for any Open Inference Protocol endpoint.

Data flows one way::

    profile knobs / trace file ─▶ schedule (arrival offsets, via ebb.traces)
    model metadata or --input-json ─▶ payload (one request, encoded once)
    schedule + client (REST: http1, gRPC: grpc.aio) ─▶ dispatch ─▶ recording (numpy arrays)
    server /metrics ─▶ poller (queue depth, workers, every ~0.5 s)
    recording + gauges ─▶ stats (pure: summary, per-second timeline) ─▶ report (text, JSON, CSV)
                                                                      └▶ plot (PNG)

Open loop: every arrival is sent at its scheduled time whether or not earlier ones were answered,
so an overloaded server shows as latency, rejections and client-dropped requests rather than as
a politely slower client. Latency is measured from the scheduled time.

In-process use (benchmarks, tests)::

    schedule = from_trace(ebb.traces.step(50, 300, at_s=10, duration_s=30, seed=0), 30, 10**6)
    result = await run_load(LoadConfig(schedule, "sleep", "http://127.0.0.1:8080", None,
                                       "http://127.0.0.1:8080/metrics", None, seed=0,
                                       concurrency_limit=1000, timeout_s=10, slo_s=0.1))

The names below load on first use, so importing the package (the ``ebb`` parser does) stays
cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ebb.loadgen.client import FakeClient, InferClient, Outcome
    from ebb.loadgen.config import LoadConfig, LoadConfigError
    from ebb.loadgen.runner import LoadResult, run_load, run_with_client
    from ebb.loadgen.schedule import (
        ProfileSpec,
        Schedule,
        ScheduleError,
        build_schedule,
        from_trace,
    )
    from ebb.loadgen.stats import Summary, Timeline

_EXPORTS = {
    "FakeClient": "client", "InferClient": "client", "Outcome": "client",
    "LoadConfig": "config", "LoadConfigError": "config",
    "LoadResult": "runner", "run_load": "runner", "run_with_client": "runner",
    "ProfileSpec": "schedule", "Schedule": "schedule", "ScheduleError": "schedule",
    "build_schedule": "schedule", "from_trace": "schedule",
    "Summary": "stats", "Timeline": "stats",
}

__all__ = [
    "FakeClient",
    "InferClient",
    "LoadConfig",
    "LoadConfigError",
    "LoadResult",
    "Outcome",
    "ProfileSpec",
    "Schedule",
    "ScheduleError",
    "Summary",
    "Timeline",
    "build_schedule",
    "from_trace",
    "run_load",
    "run_with_client",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ebb.loadgen' has no attribute {name!r}")
    return getattr(importlib.import_module(f"ebb.loadgen.{module}"), name)
