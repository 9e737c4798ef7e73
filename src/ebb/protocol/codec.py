"""The v2 REST body <-> neutral types, with the binary tensor data extension.

A request body is JSON, optionally followed by binary tensor data; the JSON part's length comes
from the ``Inference-Header-Content-Length`` header. Inputs with a ``binary_data_size`` parameter
take their bytes from the tail in order. An output is answered in binary when it asks for
``binary_data`` or the request sets ``binary_data_output`` (tritonclient's default).

Work is bounded by the body before anything is allocated (``ebb.protocol.limits``): shapes may
not claim more elements than the body carries, ``data`` may not nest deeper than a tensor's
rank limit, and every pass over inputs or requested outputs is linear.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson

from ebb.core.datatypes import element_count, numpy_dtype
from ebb.core.errors import InvalidInput
from ebb.core.types import InferRequest, InferResponse, Parameters, RequestedOutput, Tensor
from ebb.protocol.limits import MAX_DIMS, ElementAllowance, flatten
from ebb.protocol.raw import tensor_from_raw, tensor_to_raw

_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
_MICROSECONDS = 1e-6
_MAX_TIMEOUT_US = 10**18


def decode_infer_request(model_name: str, model_version: str, body: bytes,
                         header_length: int | None) -> InferRequest:
    """Decode a v2 infer body; ``header_length`` is None when the body is JSON only."""
    if header_length is None:
        json_part: bytes | memoryview = body
        binary = memoryview(b"")
    else:
        if header_length < 0 or header_length > len(body):
            raise InvalidInput(
                f"Inference-Header-Content-Length {header_length} is outside the body "
                f"of {len(body)} bytes"
            )
        view = memoryview(body)
        json_part, binary = view[:header_length], view[header_length:]
    try:
        document = orjson.loads(json_part)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"malformed JSON in request body: {error}") from None
    if not isinstance(document, dict):
        raise InvalidInput("request body must be a JSON object with an 'inputs' list")
    raw_inputs = document.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise InvalidInput("request needs a non-empty 'inputs' list")
    offset = 0
    inputs = []
    allowance = ElementAllowance(len(body))
    for index, raw_input in enumerate(raw_inputs):
        tensor, offset = _decode_input(raw_input, index, binary, offset, allowance)
        inputs.append(tensor)
    if offset != len(binary):
        raise InvalidInput(
            f"binary data is {len(binary)} bytes but the inputs' binary_data_size add up to "
            f"{offset}"
        )
    parameters = _parameters(document.get("parameters"), "request")
    timeout_s = None
    if "timeout" in parameters:
        timeout = parameters["timeout"]
        if (not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 0
                or timeout >= _MAX_TIMEOUT_US):
            raise InvalidInput("parameter 'timeout' must be a non-negative integer "
                               "(microseconds) below 10^18")
        timeout_s = timeout * _MICROSECONDS if timeout else None
    return InferRequest(
        model_name=model_name,
        model_version=model_version,
        id=_string(document.get("id", ""), "id"),
        inputs=tuple(inputs),
        outputs=_decode_requested_outputs(document.get("outputs")),
        parameters=parameters,
        timeout_s=timeout_s,
    )


def _decode_input(raw: Any, index: int, binary: memoryview, offset: int,
                  allowance: ElementAllowance) -> tuple[Tensor, int]:
    if not isinstance(raw, dict):
        raise InvalidInput(f"inputs[{index}] must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"inputs[{index}] needs a 'name'")
    datatype = raw.get("datatype")
    if not isinstance(datatype, str):
        raise InvalidInput(f"input {name!r} needs a 'datatype'")
    shape = _shape(raw.get("shape"), name)
    count = allowance.claim(shape, name)
    raw_parameters = raw.get("parameters")
    parameters = {} if raw_parameters is None else _parameters(raw_parameters,
                                                                 f"input {name!r}")
    binary_size = parameters.get("binary_data_size")
    if binary_size is not None:
        if not isinstance(binary_size, int) or isinstance(binary_size, bool) or binary_size < 0:
            raise InvalidInput(f"input {name!r}: binary_data_size must be a non-negative integer")
        end = offset + binary_size
        if end > len(binary):
            raise InvalidInput(
                f"input {name!r}: binary_data_size {binary_size} runs past the "
                f"{len(binary)} bytes of binary data"
            )
        data = tensor_from_raw(binary[offset:end], datatype, shape, name)
        return Tensor(name, datatype, data, parameters), end
    if "data" not in raw:
        raise InvalidInput(f"input {name!r} has neither 'data' nor a binary_data_size parameter")
    return Tensor(name, datatype, _array_from_json(raw["data"], datatype, shape, count, name),
                  parameters), offset


def _shape(raw: Any, name: str) -> tuple[int, ...]:
    if isinstance(raw, list) and len(raw) > MAX_DIMS:
        raise InvalidInput(f"input {name!r}: shape has {len(raw)} dimensions; at most "
                           f"{MAX_DIMS} are allowed")
    if not isinstance(raw, list) or not all(type(dim) is int and dim >= 0 for dim in raw):
        raise InvalidInput(f"input {name!r}: 'shape' must be a list of non-negative integers")
    return tuple(raw)


def _array_from_json(data: Any, datatype: str, shape: tuple[int, ...], count: int, name: str
                     ) -> np.ndarray:
    dtype = numpy_dtype(datatype)
    if datatype == "BYTES":
        flat = flatten(data, name)
        if len(flat) != count:
            raise _count_mismatch(name, len(flat), shape)
        array = np.empty(count, dtype=object)
        for index, item in enumerate(flat):
            if isinstance(item, str):
                array[index] = item.encode()
            else:
                raise InvalidInput(f"input {name!r}: BYTES elements must be strings in JSON")
        return array.reshape(shape)
    try:
        array = np.asarray(data, dtype=dtype)
    except (ValueError, TypeError, OverflowError) as error:
        raise InvalidInput(f"input {name!r}: data is not valid {datatype}: {error}") from None
    if array.ndim > MAX_DIMS:
        raise InvalidInput(f"input {name!r}: data is nested more than {MAX_DIMS} deep")
    if datatype == "BOOL" and not all(isinstance(item, bool) for item in flatten(data, name)):
        raise InvalidInput(f"input {name!r}: BOOL data must be true/false")
    if array.size != count:
        raise _count_mismatch(name, int(array.size), shape)
    if dtype.kind == "f" and not np.isfinite(array).all():
        raise InvalidInput(f"input {name!r}: {datatype} data must be finite numbers (null, or "
                           f"a value beyond {datatype}'s range, was given)")
    return array.reshape(shape)


def _count_mismatch(name: str, got: int, shape: tuple[int, ...]) -> InvalidInput:
    return InvalidInput(
        f"input {name!r}: {got} elements of data, but shape {list(shape)} needs "
        f"{element_count(shape)}"
    )


def _decode_requested_outputs(raw: Any) -> tuple[RequestedOutput, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidInput("'outputs' must be a list")
    outputs = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidInput(f"outputs[{index}] needs a 'name'")
        name = item["name"]
        if name in seen:
            raise InvalidInput(f"output {name!r} is requested more than once")
        seen.add(name)
        parameters = _parameters(item.get("parameters"), f"output {name!r}")
        outputs.append(RequestedOutput(name, parameters))
    return tuple(outputs)


def _parameters(raw: Any, where: str) -> Parameters:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: 'parameters' must be an object")
    for key, value in raw.items():
        if not isinstance(value, bool | int | float | str):
            raise InvalidInput(f"{where}: parameter {key!r} must be a boolean, number or string")
    return raw


def _string(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"'{field}' must be a string")
    return value


def binary_choices(request: InferRequest) -> dict[str, bool]:
    """Per requested output, whether it asked for binary data (one pass: linear)."""
    return {requested.name: bool(requested.parameters["binary_data"])
            for requested in request.outputs if "binary_data" in requested.parameters}


def encode_infer_response(response: InferResponse, request: InferRequest
                          ) -> tuple[bytes, int | None]:
    """Encode a v2 infer answer; the int is the JSON header length when binary data follows."""
    blobs: list[bytes] = []
    outputs = []
    choices = binary_choices(request) if request.outputs else {}
    default = bool(request.parameters.get("binary_data_output", False))
    for tensor in response.outputs:
        entry: dict[str, Any] = {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": list(tensor.data.shape),
        }
        if choices.get(tensor.name, default):
            blob = tensor_to_raw(tensor.data, tensor.datatype)
            entry["parameters"] = {**tensor.parameters, "binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            if tensor.parameters:
                entry["parameters"] = dict(tensor.parameters)
            entry["data"] = _json_data(tensor)
        outputs.append(entry)
    document: dict[str, Any] = {
        "model_name": response.model_name,
        "model_version": response.model_version,
        "outputs": outputs,
    }
    if response.id:
        document["id"] = response.id
    if response.parameters:
        document["parameters"] = dict(response.parameters)
    header = orjson.dumps(document, option=_JSON_OPTIONS)
    if not blobs:
        return header, None
    return b"".join([header, *blobs]), len(header)


def _json_data(tensor: Tensor) -> Any:
    flat = tensor.data.reshape(-1)
    if tensor.datatype == "BYTES":
        return [item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
                for item in flat]
    return np.ascontiguousarray(flat)


def encode_error(message: str) -> bytes:
    return orjson.dumps({"error": message})


def dumps(document: Mapping[str, Any]) -> bytes:
    return orjson.dumps(document, option=_JSON_OPTIONS)
