"""gRPC ModelInfer messages <-> neutral types.

Inputs come either as typed ``contents`` or as ``raw_input_contents`` (one entry per input, in
order). A request that used raw inputs is answered with ``raw_output_contents``, which is all
tritonclient's gRPC client reads; FP16 has no typed field, so it always travels raw.

A shape is checked against the data actually sent (``ebb.protocol.limits``) before numpy
allocates; requested outputs are named at most once each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ebb.core.datatypes import numpy_dtype
from ebb.core.errors import InvalidInput
from ebb.core.types import InferRequest, InferResponse, Parameters, RequestedOutput, Tensor
from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol.limits import ElementAllowance, checked_count
from ebb.protocol.raw import tensor_from_raw, tensor_to_raw

CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents", "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


def decode_parameters(parameters: Mapping[str, Any]) -> dict[str, bool | int | float | str]:
    if not parameters:
        return {}  # the common case: no items view, no loop
    decoded: dict[str, bool | int | float | str] = {}
    for key, parameter in parameters.items():
        choice = parameter.WhichOneof("parameter_choice")
        if choice is not None:
            decoded[key] = getattr(parameter, choice)
    return decoded


def encode_parameters(target: Any, parameters: Parameters) -> None:
    for key, value in parameters.items():
        if isinstance(value, bool):
            target[key].bool_param = value
        elif isinstance(value, int):
            target[key].int64_param = value
        elif isinstance(value, float):
            target[key].double_param = value
        else:
            target[key].string_param = str(value)


def decode_model_infer_request(message: Any, timeout_s: float | None) -> tuple[InferRequest, bool]:
    """Returns the request and whether it used raw inputs (so the answer should too)."""
    raw = message.raw_input_contents
    uses_raw = len(raw) > 0
    if uses_raw and len(raw) != len(message.inputs):
        raise InvalidInput(f"{len(raw)} raw_input_contents for {len(message.inputs)} inputs; "
                           "raw contents must be given for every input or none")
    if not message.inputs:
        raise InvalidInput("request needs at least one input")
    inputs = []
    for index, tensor in enumerate(message.inputs):
        if uses_raw and tensor.HasField("contents") and tensor.contents.ByteSize():
            raise InvalidInput(f"input {tensor.name!r} has typed contents, but the request uses "
                               "raw_input_contents; give one or the other, not both")
        shape = tuple(tensor.shape)
        if uses_raw:
            ElementAllowance(len(raw[index])).claim(shape, tensor.name)
            data = tensor_from_raw(raw[index], tensor.datatype, shape, tensor.name)
        else:
            data = _from_contents(tensor, shape)
        inputs.append(Tensor(tensor.name, tensor.datatype, data,
                             decode_parameters(tensor.parameters)))
    outputs = _requested_outputs(message.outputs)
    request = InferRequest(
        model_name=message.model_name,
        model_version=message.model_version,
        id=message.id,
        inputs=tuple(inputs),
        outputs=outputs,
        parameters=decode_parameters(message.parameters),
        timeout_s=timeout_s,
    )
    return request, uses_raw


def _requested_outputs(requested: Any) -> tuple[RequestedOutput, ...]:
    if not requested:
        return ()
    outputs = []
    seen: set[str] = set()
    for output in requested:
        if output.name in seen:
            raise InvalidInput(f"output {output.name!r} is requested more than once")
        seen.add(output.name)
        outputs.append(RequestedOutput(output.name, decode_parameters(output.parameters)))
    return tuple(outputs)


def _from_contents(tensor: Any, shape: tuple[int, ...]) -> np.ndarray:
    field = CONTENTS_FIELD.get(tensor.datatype)
    if field is None:
        numpy_dtype(tensor.datatype)  # unknown datatype: raises with the list of valid ones
        raise InvalidInput(f"input {tensor.name!r}: {tensor.datatype} data must be sent in "
                           "raw_input_contents")
    values = getattr(tensor.contents, field)
    count = checked_count(shape, tensor.name)
    if len(values) != count:
        raise InvalidInput(f"input {tensor.name!r}: {len(values)} elements in contents, but "
                           f"shape {list(shape)} needs {count}")
    if tensor.datatype == "BYTES":
        array = np.empty(count, dtype=object)
        array[:] = list(values)
        return array.reshape(shape)
    try:
        return np.array(values, dtype=numpy_dtype(tensor.datatype)).reshape(shape)
    except OverflowError as error:
        raise InvalidInput(f"input {tensor.name!r}: {error}") from None


def encode_model_infer_response(response: InferResponse, raw: bool) -> Any:
    message = pb.ModelInferResponse(model_name=response.model_name,
                                    model_version=response.model_version, id=response.id)
    encode_parameters(message.parameters, response.parameters)
    raw = raw or any(t.datatype not in CONTENTS_FIELD for t in response.outputs)
    for tensor in response.outputs:
        output = message.outputs.add(name=tensor.name, datatype=tensor.datatype,
                                     shape=tensor.data.shape)
        encode_parameters(output.parameters, tensor.parameters)
        if raw:
            message.raw_output_contents.append(tensor_to_raw(tensor.data, tensor.datatype))
        else:
            getattr(output.contents, CONTENTS_FIELD[tensor.datatype]).extend(
                tensor.data.reshape(-1).tolist())
    return message
