"""Per model version counts and durations for the statistics extension, fed by an
``InferenceHook`` (``ebb.core.dispatch``): the dispatcher reports each inference with its queue
and worker time, and this adds them up. Plain integers; no lock (one event loop)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ebb.core.dispatch import InferenceRecord
from ebb.core.repository import BatchStatistics, Duration, VersionStatistics

_NS = 1_000_000_000


@dataclass(slots=True)
class _Counts:
    """Sums in seconds (floats are cheaper to add than nanosecond ints); reported in ns."""

    last_inference_s: float = 0.0
    success: int = 0
    success_s: float = 0.0
    fail: int = 0
    fail_s: float = 0.0
    computed: int = 0
    """Requests that reached a worker: their queue wait and compute time are known."""
    queue_s: float = 0.0
    compute_s: float = 0.0


class StatisticsBook:
    """Counts by (model, version), kept while the version is loaded.

    ``latest`` names the version a request without one went to (it failed before an answer
    said so); ``executions`` reads a version's batch count from serving, ``batches`` its
    batches by size.
    """

    def __init__(self, latest: Callable[[str], str | None],
                 executions: Callable[[str, str], int],
                 batches: Callable[[str, str], tuple[BatchStatistics, ...]] = lambda n, v: ()
                 ) -> None:
        self._latest = latest
        self._executions = executions
        self._batches = batches
        self._counts: dict[tuple[str, str], _Counts] = {}

    def start(self, name: str, version: str) -> None:
        self._counts[(name, version)] = _Counts()

    def forget(self, name: str) -> None:
        for key in [key for key in self._counts if key[0] == name]:
            del self._counts[key]

    def __call__(self, record: InferenceRecord) -> None:
        """Runs per request on the event loop: a few additions, no clock read."""
        response = record.response
        request = record.request
        if response is not None:
            counts = self._counts.get((request.model_name, response.model_version))
        else:
            version = request.model_version or self._latest(request.model_name) or ""
            counts = self._counts.get((request.model_name, version))
        if counts is None:
            return  # a name or version not served: no series for made-up names
        total_s = record.total_s
        counts.last_inference_s = record.received_at + total_s
        if record.error is None:
            counts.success += 1
            counts.success_s += total_s
        else:
            counts.fail += 1
            counts.fail_s += total_s
        if record.batch_size:
            counts.computed += 1
            counts.queue_s += record.queue_wait_s
            counts.compute_s += record.inference_s

    def report(self, name: str, version: str) -> VersionStatistics:
        counts = self._counts.get((name, version), _Counts())
        return VersionStatistics(
            name=name, version=version, last_inference_ms=int(counts.last_inference_s * 1000),
            inference_count=counts.success, execution_count=self._executions(name, version),
            success=Duration(counts.success, _ns(counts.success_s)),
            fail=Duration(counts.fail, _ns(counts.fail_s)),
            queue=Duration(counts.computed, _ns(counts.queue_s)),
            compute_infer=Duration(counts.computed, _ns(counts.compute_s)),
            batches=self._batches(name, version))


def batch_statistics(by_size: dict[int, list[float]]) -> tuple[BatchStatistics, ...]:
    """``ModelStats.by_batch_size`` as the extension reports it, smallest batch first."""
    return tuple(BatchStatistics(size, Duration(int(count), _ns(seconds)))
                 for size, (count, seconds) in sorted(by_size.items()))


def _ns(seconds: float) -> int:
    return round(seconds * _NS)
