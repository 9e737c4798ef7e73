"""The model seams.

A ``ModelSource`` is a small picklable description of where a model comes from. The gateway calls
``describe()`` (cheap: metadata only) and ships the source to each worker process, which calls
``load()`` once and then ``infer`` for every batch. Users who bring their own Python model write a
class that satisfies ``Model`` (``from ebb import Model, TensorSpec``), e.g.::

    class Doubler:
        inputs = [TensorSpec("x", "FP32", (-1, 4))]
        outputs = [TensorSpec("y", "FP32", (-1, 4))]
        max_batch_size = 64
        def infer(self, inputs): return {"y": inputs["x"] * 2}

and serve it with ``ebb serve mymodule:Doubler``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from ebb.core.types import ModelMetadata, TensorSpec


class ModelRuntime(Protocol):
    def infer(self, inputs: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        """Run one batch. Batchable models get inputs stacked along dimension 0."""
        ...


class Model(Protocol):
    """What a Python model class provides for ``ebb serve module:Class``.

    Nothing needs to inherit from it: annotate an instance as ``Model`` to have mypy check the
    class. The loader reads the class attributes before any instance exists; optional ``name``,
    ``version`` and ``platform`` attributes override the defaults (the lower-case class name,
    ``"1"``, ``"python"``), and ``__init__`` runs once per worker process.
    """

    @property
    def inputs(self) -> Sequence[TensorSpec]:
        """The input tensors; -1 marks a dimension of any size."""
        ...

    @property
    def outputs(self) -> Sequence[TensorSpec]:
        ...

    @property
    def max_batch_size(self) -> int:
        """Most rows in one ``infer`` call; 0: no batch dimension, one request per call."""
        ...

    def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch: a batchable model's requests stacked along dimension 0."""
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
