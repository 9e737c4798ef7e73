"""What serving reports, fanned out to whoever listens: metrics, dashboard, drift monitors.

Serving and the protocol adapters know one observer; ``FanOut`` passes each event to a tuple
of them, so adding a listener (an audit sink, a tracer) is a line in the app factory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import numpy as np

from ebb.anomaly import ModelWatch
from ebb.dashboard.feed import DashboardFeed
from ebb.serving.stats import NullObserver, RequestRecorder, ServingObserver


class Observer(ServingObserver, RequestRecorder, Protocol):
    """Both reporting seams at once: what one listener of the app implements."""


class FanOut(NullObserver):
    """Passes each event to every observer that handles it.

    The hot path reports every request, so the handlers are gathered once: an observer that
    inherits ``NullObserver``'s no-op for an event is not called for it.
    """

    def __init__(self, observers: tuple[Observer, ...]) -> None:
        self._observers = observers
        self._request_done = _handlers(observers, "request_done")
        self._batch_done = _handlers(observers, "batch_done")
        self._worker_started = _handlers(observers, "worker_started")
        self._worker_restarted = _handlers(observers, "worker_restarted")
        self._batch_sample = _handlers(observers, "batch_sample")

    def request_done(self, model: str, protocol: str, code: int, seconds: float) -> None:
        for handler in self._request_done:
            handler(model, protocol, code, seconds)

    def batch_done(self, model: str, requests: int, rows: int, seconds: float,
                   queue_waits: list[float]) -> None:
        for handler in self._batch_done:
            handler(model, requests, rows, seconds, queue_waits)

    def worker_started(self, model: str, seconds: float) -> None:
        for handler in self._worker_started:
            handler(model, seconds)

    def worker_restarted(self, model: str) -> None:
        for handler in self._worker_restarted:
            handler(model)

    def batch_sample(self, model: str, inputs: Mapping[str, np.ndarray],
                     outputs: Mapping[str, np.ndarray]) -> None:
        for handler in self._batch_sample:
            handler(model, inputs, outputs)


def _handlers(observers: tuple[Observer, ...], event: str) -> tuple[Callable[..., None], ...]:
    """Each observer's bound method for `event`, skipping inherited no-ops."""
    noop = getattr(NullObserver, event)
    return tuple(getattr(observer, event) for observer in observers
                 if getattr(type(observer), event, None) is not noop)


class DashboardRecorder(NullObserver):
    """Latencies and queue waits into each model's dashboard reservoir."""

    def __init__(self, feeds: Mapping[str, DashboardFeed]) -> None:
        self._feeds = feeds

    def request_done(self, model: str, protocol: str, code: int, seconds: float) -> None:
        feed = self._feeds.get(model)  # None: a model serving several versions (feeds are per
        if feed is not None:           # version), or one just unloaded
            feed.reservoir.add(seconds, code)

    def batch_done(self, model: str, requests: int, rows: int, seconds: float,
                   queue_waits: list[float]) -> None:
        feed = self._feeds.get(model)
        if feed is not None:
            feed.reservoir.add_waits(queue_waits)


class DriftRecorder(NullObserver):
    """One request of each batch into the model's drift monitor."""

    def __init__(self, watches: Mapping[str, ModelWatch]) -> None:
        self._watches = watches

    def batch_sample(self, model: str, inputs: Mapping[str, np.ndarray],
                     outputs: Mapping[str, np.ndarray]) -> None:
        watch = self._watches.get(model)
        if watch is not None:  # None: a model version just unloaded
            watch.observe_batch(inputs, outputs)
