"""Ebb: serve models over the Open Inference Protocol, scale them on queue depth.

What a Python model author needs, importable from here::

    from ebb import TensorSpec

    class Scorer:
        inputs = [TensorSpec("features", "FP32", (-1, 8))]
        outputs = [TensorSpec("score", "FP32", (-1,))]
        max_batch_size = 64
        def infer(self, inputs): return {"score": inputs["features"].sum(axis=1)}

Worker processes import this package, so it imports only the light type modules.
"""

from __future__ import annotations

from ebb.core.types import TensorSpec
from ebb.runtime.base import Model

__version__ = "0.1.0"

__all__ = ["Model", "TensorSpec", "__version__"]
