"""TorchScript models (optional extra: ``pip install torch``).

TorchScript carries no tensor types, so metadata comes from a ``metadata.json`` extra file saved
inside the archive (``torch.jit.save(m, path, _extra_files={"metadata.json": ...})`` with
``{"inputs": [[name, datatype, shape]], "outputs": [...], "max_batch_size": N}``); without one,
Triton's convention applies: one FP32 input ``INPUT__0`` and output ``OUTPUT__0`` of shape [-1,-1].
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ebb.core.types import ModelMetadata, TensorSpec
from ebb.runtime.base import UNBOUNDED_BATCH, ModelRuntime
from ebb.runtime.python_class import ModelLoadError


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ModelLoadError("TorchScript models need PyTorch: pip install torch") from None
    return torch


@dataclass(frozen=True)
class TorchScriptSource:
    path: Path
    name: str | None = None

    def describe(self) -> ModelMetadata:
        torch = _torch()
        extra = {"metadata.json": ""}
        try:
            torch.jit.load(str(self.path), map_location="cpu", _extra_files=extra)
        except Exception as error:
            raise ModelLoadError(f"cannot load TorchScript {self.path}: {error}") from None
        name = self.name or self.path.stem
        if not extra["metadata.json"]:
            return ModelMetadata(
                name=name, platform="pytorch_libtorch", max_batch_size=UNBOUNDED_BATCH,
                inputs=(TensorSpec("INPUT__0", "FP32", (-1, -1)),),
                outputs=(TensorSpec("OUTPUT__0", "FP32", (-1, -1)),),
            )
        declared = json.loads(extra["metadata.json"])
        return ModelMetadata(
            name=name, platform="pytorch_libtorch",
            inputs=tuple(TensorSpec(n, d, tuple(s)) for n, d, s in declared["inputs"]),
            outputs=tuple(TensorSpec(n, d, tuple(s)) for n, d, s in declared["outputs"]),
            max_batch_size=int(declared.get("max_batch_size", UNBOUNDED_BATCH)),
        )

    def load(self) -> ModelRuntime:
        return TorchScriptModel(self.path, self.describe())


class TorchScriptModel:
    def __init__(self, path: Path, metadata: ModelMetadata) -> None:
        torch = _torch()
        self._torch = torch
        self._module = torch.jit.load(str(path), map_location="cpu").eval()
        self._input_names = [spec.name for spec in metadata.inputs]
        self._output_names = [spec.name for spec in metadata.outputs]

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self._torch.inference_mode():
            tensors = [self._torch.from_numpy(np.array(inputs[n])) for n in self._input_names]
            result = self._module(*tensors)
        results = result if isinstance(result, tuple | list) else (result,)
        return {name: value.numpy() for name, value in zip(self._output_names, results,
                                                           strict=True)}
