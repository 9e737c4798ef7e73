"""Synthetic models for tests, benchmarks and demos: ``builtin:double`` and ``builtin:sleep``."""

from __future__ import annotations

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
        return ModelMetadata(
            name="sleep",
            platform="ebb_builtin",
            inputs=(TensorSpec("INPUT0", "FP32", (-1, -1)),),
            outputs=(TensorSpec("OUTPUT0", "FP32", (-1, -1)),),
            max_batch_size=UNBOUNDED_BATCH,
        )

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch = inputs["INPUT0"]
        time.sleep(self._fixed_s + self._per_item_s * batch.shape[0])
        return {"OUTPUT0": batch}


def _check_costs(*millis: float) -> None:
    if min(millis) < 0:
        raise ValueError("ms, per_item_ms and load_ms must not be negative")
