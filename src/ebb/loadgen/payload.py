"""The request every arrival sends: random inputs that fit a model's metadata, or a user's file.

Built once per run; the REST and gRPC clients encode it once. Dimensions of -1 become 1, so the
request is a single row::

    inputs = random_inputs(specs, np.random.default_rng(0))
    body = rest_body(inputs)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ebb.core.datatypes import numpy_dtype
from ebb.core.errors import InvalidInput
from ebb.core.types import Tensor, TensorSpec
from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol.codec import decode_infer_request
from ebb.protocol.raw import tensor_to_raw


class PayloadError(ValueError):
    """The model's metadata or the --input-json file cannot give a request."""


def specs_from_json(document: Any) -> tuple[TensorSpec, ...]:
    """Input specs from a ``GET /v2/models/{m}`` answer."""
    try:
        return tuple(TensorSpec(str(spec["name"]), str(spec["datatype"]),
                                tuple(int(dim) for dim in spec["shape"]))
                     for spec in document["inputs"])
    except (KeyError, TypeError, ValueError) as error:
        raise PayloadError(f"model metadata has no usable 'inputs': {error!r}") from None


def random_inputs(specs: Sequence[TensorSpec], rng: np.random.Generator) -> tuple[Tensor, ...]:
    """One valid random tensor per input spec; -1 dimensions become 1."""
    if not specs:
        raise PayloadError("the model declares no inputs; pass --input-json")
    return tuple(Tensor(spec.name, spec.datatype, _random_array(spec, rng)) for spec in specs)


def _random_array(spec: TensorSpec, rng: np.random.Generator) -> np.ndarray:
    shape = tuple(1 if dim < 0 else dim for dim in spec.shape)
    try:
        dtype = numpy_dtype(spec.datatype)
    except InvalidInput as error:
        raise PayloadError(f"input {spec.name!r}: {error}") from None
    if spec.datatype == "BYTES":
        array = np.empty(shape, dtype=object)
        array.reshape(-1)[:] = [f"ebb-{value}".encode() for value in
                                rng.integers(0, 1000, size=array.size)]
        return array
    if spec.datatype == "BOOL":
        return rng.random(shape) < 0.5
    if dtype.kind == "f":
        return rng.random(shape).astype(dtype)
    return rng.integers(0, 10, size=shape).astype(dtype)


def inputs_from_file(path: Path, model: str) -> tuple[bytes, tuple[Tensor, ...]]:
    """The file's bytes (sent as-is over REST) and its decoded inputs (for gRPC)."""
    try:
        body = path.read_bytes()
    except OSError as error:
        raise PayloadError(f"cannot read {path}: {error}") from None
    try:
        request = decode_infer_request(model, "", body, None)
    except InvalidInput as error:
        raise PayloadError(f"{path}: {error.message}") from None
    return body, request.inputs


def rest_body(inputs: Sequence[Tensor]) -> bytes:
    """A v2 JSON infer body."""
    return orjson.dumps({"inputs": [
        {"name": tensor.name, "datatype": tensor.datatype, "shape": list(tensor.shape),
         "data": _json_data(tensor)} for tensor in inputs]})


def _json_data(tensor: Tensor) -> list[Any]:
    flat = tensor.data.reshape(-1)
    if tensor.datatype == "BYTES":
        return [item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
                for item in flat]
    values: list[Any] = flat.tolist()
    return values


def grpc_request(model: str, inputs: Sequence[Tensor]) -> Any:
    """A ModelInferRequest carrying every input in ``raw_input_contents``."""
    message = pb.ModelInferRequest(model_name=model)
    for tensor in inputs:
        message.inputs.add(name=tensor.name, datatype=tensor.datatype, shape=list(tensor.shape))
        message.raw_input_contents.append(tensor_to_raw(tensor.data, tensor.datatype))
    return message
