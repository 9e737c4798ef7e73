"""What the in-process protocol tests share: two fake models and a recorder that keeps a list."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ebb.core.dispatch import InferenceRecord
from ebb.core.fake_dispatcher import FakeDispatcher
from ebb.core.types import ModelMetadata, TensorSpec
from ebb.protocol.info import ServerInfo

INFO = ServerInfo("ebb", "test")
DOUBLE = ModelMetadata("double", (TensorSpec("INPUT0", "FP32", (-1, 4)),),
                       (TensorSpec("OUTPUT0", "FP32", (-1, 4)),), versions=("1", "2"),
                       max_batch_size=8)
PAIR = ModelMetadata("pair", (TensorSpec("INPUT0", "FP32", (-1, 4)),
                              TensorSpec("INPUT1", "FP32", (-1, 4))),
                     (TensorSpec("OUTPUT0", "FP32", (-1, 4)),))


def double(inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Both fake models answer twice their first input."""
    return {"OUTPUT0": inputs["INPUT0"] * 2}


class ListRecorder:
    """A ``RequestRecorder`` that keeps (model, protocol, code) of every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self.seconds: list[float] = []

    def request_done(self, model: str, protocol: str, code: int, seconds: float) -> None:
        self.calls.append((model, protocol, code))
        self.seconds.append(seconds)


def fake_dispatcher(records: list[InferenceRecord]) -> FakeDispatcher:
    return FakeDispatcher([DOUBLE, PAIR], double, hooks=[records.append])
