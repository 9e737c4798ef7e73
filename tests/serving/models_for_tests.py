"""Models that misbehave on purpose, served by real worker processes in the tests."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ebb.core.types import TensorSpec


class _Base:
    inputs = [TensorSpec("INPUT0", "FP32", (-1, 2))]
    outputs = [TensorSpec("OUTPUT0", "FP32", (-1, 2))]
    max_batch_size = 64


class DiesOnce(_Base):
    """Kills its own process on the first batch any instance sees (a marker file remembers)."""

    name = "dies_once"

    def __init__(self, marker: str) -> None:
        self._marker = marker

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        marker = Path(self._marker)
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(17)
        return {"OUTPUT0": inputs["INPUT0"] + 1}


class AlwaysDies(_Base):
    name = "always_dies"

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        os._exit(17)


class RaisesOnNegative(_Base):
    name = "raises"

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if (inputs["INPUT0"] < 0).any():
            raise ValueError("negative readings are not allowed")
        return {"OUTPUT0": inputs["INPUT0"]}


class FailsFirstCall(_Base):
    """Raises on the first inference of each process, like a lazy initialisation that fails."""

    name = "fails_first"

    def __init__(self) -> None:
        self._calls = 0

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._calls += 1
        if self._calls == 1:
            raise RuntimeError("CUDA kernels not loaded yet")
        return {"OUTPUT0": inputs["INPUT0"]}
