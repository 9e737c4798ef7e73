"""One model's anomaly state in the server: the signal monitor plus the drift monitor."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ebb.anomaly._drift import DEFAULT_DRIFT_CONFIG, DriftMonitor
from ebb.anomaly._monitor import DEFAULT_SIGNAL_CONFIGS, SignalAnomalyMonitor, SignalSnapshot


class ModelWatch:
    """Fed a sample of each batch's tensors and a snapshot of the signals once a second.

    ``latest`` maps a signal label (``latency``, ``drift:input:x``, ...) to (score, active):
    what the metrics export and the dashboard draws. Drift PSI is computed in ``tick``, once a
    second, never on the request path.
    """

    def __init__(self) -> None:
        self.signals = SignalAnomalyMonitor(DEFAULT_SIGNAL_CONFIGS)
        self.drift = DriftMonitor(DEFAULT_DRIFT_CONFIG)
        self.latest: dict[str, tuple[float, bool]] = {}

    def observe_batch(self, inputs: Mapping[str, np.ndarray],
                      outputs: Mapping[str, np.ndarray]) -> None:
        for name, array in inputs.items():
            self.drift.observe(f"input:{name}", array)
        for name, array in outputs.items():
            self.drift.observe(f"output:{name}", array)

    def tick(self, now: float, snapshot: SignalSnapshot) -> dict[str, tuple[float, bool]]:
        latest = {signal: (reading.score, reading.active)
                  for signal, reading in self.signals.update(now, snapshot).items()}
        for name, reading in self.drift.readings().items():
            latest[f"drift:{name}"] = (reading.psi, reading.active)
        self.latest = latest
        return latest
