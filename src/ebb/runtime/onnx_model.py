"""ONNX models through onnxruntime. Metadata is read from the graph without creating a session."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ebb.core.types import ModelMetadata, TensorSpec
from ebb.runtime.base import UNBOUNDED_BATCH, ModelRuntime
from ebb.runtime.python_class import ModelLoadError

# onnx.TensorProto element types -> OIP datatypes (numbers are the ONNX spec's).
_DATATYPE_BY_ONNX_TYPE = {
    1: "FP32", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64",
    8: "BYTES", 9: "BOOL", 10: "FP16", 11: "FP64", 12: "UINT32", 13: "UINT64",
}


@dataclass(frozen=True)
class OnnxSource:
    path: Path
    name: str | None = None
    threads: int = 1
    """Intra-op threads per worker: Ebb scales with worker processes, not threads."""

    def describe(self) -> ModelMetadata:
        import onnx

        try:
            model = onnx.load(str(self.path), load_external_data=False)
        except Exception as error:
            raise ModelLoadError(f"cannot read ONNX model {self.path}: {error}") from None
        graph = model.graph
        initializers = {init.name for init in graph.initializer}
        inputs = tuple(_spec(value) for value in graph.input if value.name not in initializers)
        outputs = tuple(_spec(value) for value in graph.output)
        batchable = all(spec.shape and spec.shape[0] == -1 for spec in inputs + outputs)
        version = str(model.model_version) if model.model_version else "1"
        return ModelMetadata(
            name=self.name or self.path.stem,  # the file's, as for .joblib: graph names are
                                               # exporters' (main_graph, "ONNX(Pipeline)")
            versions=(version,),
            platform="onnxruntime_onnx",
            inputs=inputs,
            outputs=outputs,
            max_batch_size=UNBOUNDED_BATCH if batchable else 0,
        )

    def load(self) -> ModelRuntime:
        return OnnxRuntimeModel(self.path, self.threads)


def _spec(value: Any) -> TensorSpec:
    tensor_type = value.type.tensor_type
    datatype = _DATATYPE_BY_ONNX_TYPE.get(tensor_type.elem_type)
    if datatype is None:
        raise ModelLoadError(f"ONNX tensor {value.name!r} has element type "
                             f"{tensor_type.elem_type}, which the protocol cannot carry")
    shape = tuple(dim.dim_value if dim.HasField("dim_value") else -1
                  for dim in tensor_type.shape.dim)
    return TensorSpec(value.name, datatype, shape)


class OnnxRuntimeModel:
    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                     if p in ort.get_available_providers()]
        if os.environ.get("EBB_ONNX_CPU_ONLY"):
            providers = ["CPUExecutionProvider"]
        self._session = ort.InferenceSession(str(path), options, providers=providers)
        self._output_names = [output.name for output in self._session.get_outputs()]

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = self._session.run(self._output_names, dict(inputs))
        return dict(zip(self._output_names, results, strict=True))
