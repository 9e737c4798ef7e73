"""Hand-made ``InferenceRecord``s for the unit and store tests."""

from __future__ import annotations

import time

import numpy as np

from ebb.core.dispatch import InferenceRecord
from ebb.core.errors import InvalidInput
from ebb.core.types import InferRequest, InferResponse, Tensor

INPUT = np.arange(16, dtype="<f4").reshape(1, 16)


def record(index: int = 0, *, received_at: float | None = None, model: str = "double",
           failed: bool = False, protocol: str = "rest", principal: str | None = None
           ) -> InferenceRecord:
    request = InferRequest(model, (Tensor("INPUT0", "FP32", INPUT + index),), id=f"r{index}")
    if failed:
        return InferenceRecord(request, None, InvalidInput("bad input"), 400,
                               received_at or time.time(), 0.0, 0.0, 0.0005, 0, protocol,
                               principal)
    response = InferResponse(model, "1", (Tensor("OUTPUT0", "FP32", (INPUT + index) * 2),),
                             id=f"r{index}")
    return InferenceRecord(request, response, None, 200, received_at or time.time(), 0.001,
                           0.002, 0.004, 3, protocol, principal)
