"""The steps of the example pipeline in docs/repository.md (a vibration alert):

    counts_to_g (CountsToG) -> scorer (Ebb's demo model) -> alert (Threshold)

A vibration sensor sends raw accelerometer counts; ``CountsToG`` turns them into g, the unit
the scorer was fitted in; ``Threshold`` turns the anomaly score into an alert a pager can use.
Serve them with ``source = "ebb.repository.examples:CountsToG"`` in a model's config.toml.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ebb.core.types import TensorSpec

WINDOW = 64
G_PER_COUNT = 1 / 1000
"""A ±32 g accelerometer with 1 mg per count (INT16)."""
ALERT_SCORE = 3.0
"""Scores are 1.0 at the 99.5th percentile of healthy windows: alert at three times that."""


class CountsToG:
    inputs = [TensorSpec("counts", "INT16", (-1, WINDOW))]
    outputs = [TensorSpec("vibration", "FP32", (-1, WINDOW))]
    max_batch_size = 256

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"vibration": inputs["counts"].astype(np.float32) * np.float32(G_PER_COUNT)}


class Threshold:
    inputs = [TensorSpec("anomaly_score", "FP32", (-1,))]
    outputs = [TensorSpec("alert", "BOOL", (-1,)), TensorSpec("anomaly_score", "FP32", (-1,))]
    max_batch_size = 256

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        score = inputs["anomaly_score"]
        return {"alert": score > ALERT_SCORE, "anomaly_score": score}
