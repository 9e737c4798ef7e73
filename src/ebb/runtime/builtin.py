"""Synthetic models for tests, benchmarks and demos.

- ``builtin:double``: FP32 [-1,16] -> x2, costs next to nothing (measures the server).
- ``builtin:sleep?ms=20&per_item_ms=0.05&load_ms=0``: a batch costs a chosen wall time.
- ``builtin:chaos?ms=5&hang_on=7&crash_on=13``: misbehaves on request, for failure tests and
  drills. Echoes its FP32 [-1,-1] input after ``ms``; a batch in which some row starts with
  ``hang_on`` never finishes (the watchdog must kill it), and one in which some row starts with
  ``crash_on`` makes the worker process exit with code 70 (a poison request). So a client sends
  a hang or a poison pill among normal requests by choosing the first value of a row.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping

import numpy as np

from ebb.core.types import ModelMetadata, TensorSpec
from ebb.runtime.base import UNBOUNDED_BATCH


class DoubleModel:
    """FP32 [-1,16] -> the input times two; costs next to nothing, so it measures the server."""

    name = "double"
    platform = "ebb_builtin"
    inputs = [TensorSpec("INPUT0", "FP32", (-1, 16))]
    outputs = [TensorSpec("OUTPUT0", "FP32", (-1, 16))]
    max_batch_size = UNBOUNDED_BATCH

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"OUTPUT0": inputs["INPUT0"] * np.float32(2)}


class SleepModel:
    """A batch costs ``ms + per_item_ms * rows`` of wall time (sleeping, so it burns no CPU).

    Answers its FP32 input unchanged, so any shape [-1, -1] works. ``load_ms`` makes each worker
    take that long to load the model, like a large model would: cold starts for autoscaling
    experiments (``builtin:sleep?ms=20&load_ms=2000``).
    """

    def __init__(self, ms: float = 20.0, per_item_ms: float = 0.0, load_ms: float = 0.0) -> None:
        _check_costs(ms, per_item_ms, load_ms)
        self._fixed_s = ms / 1000.0
        self._per_item_s = per_item_ms / 1000.0
        time.sleep(load_ms / 1000.0)

    @classmethod
    def metadata_for(cls, ms: float = 20.0, per_item_ms: float = 0.0,
                     load_ms: float = 0.0) -> ModelMetadata:
        _check_costs(ms, per_item_ms, load_ms)
        return _fp32_matrix_model("sleep")

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch = inputs["INPUT0"]
        time.sleep(self._fixed_s + self._per_item_s * batch.shape[0])
        return {"OUTPUT0": batch}


def _check_costs(*millis: float) -> None:
    if min(millis) < 0:
        raise ValueError("ms, per_item_ms and load_ms must not be negative")


CRASH_EXIT_CODE = 70


class ChaosModel:
    """Echoes its input after ``ms``; hangs or crashes when a row starts with a chosen value."""

    def __init__(self, ms: float = 5.0, hang_on: float = math.nan,
                 crash_on: float = math.nan) -> None:
        _check_costs(ms)
        self._seconds = ms / 1000.0
        self._hang_on = hang_on
        self._crash_on = crash_on

    @classmethod
    def metadata_for(cls, ms: float = 5.0, hang_on: float = math.nan,
                     crash_on: float = math.nan) -> ModelMetadata:
        _check_costs(ms)
        return _fp32_matrix_model("chaos")

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch = inputs["INPUT0"]
        firsts = batch[:, 0] if batch.ndim == 2 and batch.shape[1] else np.empty(0)
        if (firsts == self._crash_on).any():
            os._exit(CRASH_EXIT_CODE)
        while (firsts == self._hang_on).any():
            time.sleep(3600)
        time.sleep(self._seconds)
        return {"OUTPUT0": batch.copy()}


def _fp32_matrix_model(name: str) -> ModelMetadata:
    """FP32 [-1, -1] in and out, any batch: the shape the test-and-benchmark builtins share."""
    return ModelMetadata(
        name=name,
        platform="ebb_builtin",
        inputs=(TensorSpec("INPUT0", "FP32", (-1, -1)),),
        outputs=(TensorSpec("OUTPUT0", "FP32", (-1, -1)),),
        max_batch_size=UNBOUNDED_BATCH,
    )
