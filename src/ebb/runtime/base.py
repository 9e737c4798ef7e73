"""The model seams.

A ``ModelSource`` is a small picklable description of where a model comes from. The gateway calls
``describe()`` (cheap: metadata only) and ships the source to each worker process, which calls
``load()`` once and then ``infer`` for every batch. Users who bring their own Python model write a
class with the attributes and methods of ``ModelRuntime`` plus class-level metadata, e.g.::

    class Doubler:
        inputs = [TensorSpec("x", "FP32", (-1, 4))]
        outputs = [TensorSpec("y", "FP32", (-1, 4))]
        max_batch_size = 64
        def infer(self, inputs): return {"y": inputs["x"] * 2}

and serve it with ``ebb serve mymodule:Doubler``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

from ebb.core.types import ModelMetadata


class ModelRuntime(Protocol):
    def infer(self, inputs: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        """Run one batch. Batchable models get inputs stacked along dimension 0."""
        ...


class ModelSource(Protocol):
    def describe(self) -> ModelMetadata:
        """The model's metadata, without loading weights where the format allows it."""
        ...

    def load(self) -> ModelRuntime:
        """Load an instance; runs in the worker process."""
        ...


UNBOUNDED_BATCH = 1 << 20
"""Batch limit for models whose batch dimension is free; the server's --max-batch-size caps it."""
