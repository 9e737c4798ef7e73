"""What serving reports, fanned out to whoever listens: metrics, dashboard, drift monitors.

Serving and the protocol adapters know one observer; ``FanOut`` passes each event to a tuple
of them, so adding a listener (an audit sink, a tracer) is a line in the app factory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

from ebb.anomaly import ModelWatch
from ebb.dashboard.feed import DashboardFeed
from ebb.serving.stats import NullObserver, RequestRecorder, ServingObserver


class Observer(ServingObserver, RequestRecorder, Protocol):
    """Both reporting seams at once: what one listener of the app implements."""


class FanOut(NullObserver):
    def __init__(self, observers: tuple[Observer, ...]) -> None:
        self._observers = observers

    def request_done(self, model: str, protocol: str, code: int, seconds: float) -> None:
        for observer in self._observers:
            observer.request_done(model, protocol, code, seconds)

    def batch_done(self, model: str, requests: int, rows: int, seconds: float,
                   queue_waits: list[float]) -> None:
        for observer in self._observers:
            observer.batch_done(model, requests, rows, seconds, queue_waits)

    def worker_started(self, model: str, seconds: float) -> None:
        for observer in self._observers:
            observer.worker_started(model, seconds)

    def worker_restarted(self, model: str) -> None:
        for observer in self._observers:
            observer.worker_restarted(model)

    def batch_sample(self, model: str, inputs: Mapping[str, np.ndarray],
                     outputs: Mapping[str, np.ndarray]) -> None:
        for observer in self._observers:
            observer.batch_sample(model, inputs, outputs)


class DashboardRecorder(NullObserver):
    """Latencies and queue waits into each model's dashboard reservoir."""

    def __init__(self, feeds: Mapping[str, DashboardFeed]) -> None:
        self._feeds = feeds

    def request_done(self, model: str, protocol: str, code: int, seconds: float) -> None:
        self._feeds[model].reservoir.add(seconds, code)

    def batch_done(self, model: str, requests: int, rows: int, seconds: float,
                   queue_waits: list[float]) -> None:
        self._feeds[model].reservoir.add_waits(queue_waits)


class DriftRecorder(NullObserver):
    """One request of each batch into the model's drift monitor."""

    def __init__(self, watches: Mapping[str, ModelWatch]) -> None:
        self._watches = watches

    def batch_sample(self, model: str, inputs: Mapping[str, np.ndarray],
                     outputs: Mapping[str, np.ndarray]) -> None:
        self._watches[model].observe_batch(inputs, outputs)
