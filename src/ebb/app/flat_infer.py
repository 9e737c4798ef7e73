"""The common REST infer call, from body bytes to the model's queue and back, with no layers.

The general path decodes a body into every field the protocol allows, then hands the request
through the casting front, the repository's router (pipelines, loads on demand) and the queue
dispatcher, each checking again what the one before checked. For the call nearly every client
makes, that costs more than the decode itself (``bench/README.md``, issue 15). ``FlatInfer``
answers that call in one pass: a body of ``inputs`` (and an optional ``id``) whose tensors have
exactly the served model's names, datatypes and shapes, for a model reached without a pipeline
or a load on demand. It checks the body against the model's prepared contract while decoding and
queues it with the rows and batching signature that check gives.

Anything else (no such model or version, requested outputs, parameters, binary data, a datatype
to cast, BYTES or BOOL tensors, any error in the body or the timeout header, a full memory
budget) returns None *before anything is recorded or queued*, and the caller takes the general
path, which answers it or words its error. A body this path takes, the general path would
accept and decode to the same request; ``tests/app/test_flat_infer.py`` holds both to
byte-identical answers and recorded statuses. Recording, statistics, inference-log hooks, the
queue's in-flight accounting and the answer's encoding are the general path's own code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson

from ebb.core.datatypes import numpy_dtype
from ebb.core.errors import InvalidInput
from ebb.core.types import InferRequest, Tensor
from ebb.protocol.budget import JSON_EXPANSION, MemoryBudget
from ebb.protocol.codec import encode_infer_response
from ebb.protocol.limits import MAX_DIMS, ElementAllowance, count_header
from ebb.protocol.recording import InferRecording
from ebb.protocol.rest import Answer, error_answer
from ebb.serving.dispatcher import QueueDispatcher, ServedModel

_JSON = b"application/json"
_SLOW_DATATYPES = frozenset({"BYTES", "BOOL"})
"""Decoded element by element on the general path; rare in the calls this path is for."""
_TOP_KEYS = frozenset({"inputs", "id"})
_TENSOR_KEYS = frozenset({"name", "datatype", "shape", "data"})

Decoded = tuple[tuple[Tensor, ...], int, Any, str]
"""(inputs, batch rows, batching signature, request id)."""


class FlatInfer:
    """Answers the common REST infer call against ``dispatcher``'s served models."""

    def __init__(self, dispatcher: QueueDispatcher, record: InferRecording,
                 budget: MemoryBudget) -> None:
        self._dispatcher = dispatcher
        self._record = record
        self._budget = budget

    async def answer(self, name: str, version: str, body: bytes,
                     timeout_header: bytes | None) -> Answer | None:
        """The answer to a common call; None (nothing done) for the general path to take."""
        served = self._dispatcher.direct(name, version)
        if served is None:
            return None
        timeout_s: float | None = None
        if timeout_header is not None:
            try:
                timeout_s = count_header("Ebb-Timeout-Ms", timeout_header) / 1000 or None
            except InvalidInput:
                return None
        size = len(body) * (1 + JSON_EXPANSION)
        if not self._budget.admits(size):
            return None  # the general path refuses it, in its own words, and counts it
        reservation = self._budget.reserve(size)
        try:
            decoded = decode_common(body, served)
            if decoded is None:
                return None
            reservation.shrink_to(len(body))
            inputs, rows, signature, request_id = decoded
            request = InferRequest(name, inputs, version, request_id, timeout_s=timeout_s)
            try:
                with self._record(name, "rest"):  # as the general path: encoding included
                    response = await self._dispatcher.infer_checked(served, request, rows,
                                                                    signature)
                    payload, _ = encode_infer_response(response, request)
            except Exception as error:
                status, message, extra = error_answer(error, "POST", f"/v2/models/{name}/infer")
                return status, _JSON, message, extra
        finally:
            reservation.release()
        return 200, _JSON, payload, []


def decode_common(body: bytes, served: ServedModel) -> Decoded | None:
    """The body's tensors, checked against the served model's contract; None unless the body
    is the common call and every check passes."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(document) is not dict or not document.keys() <= _TOP_KEYS:
        return None
    raw_inputs = document.get("inputs")
    request_id = document.get("id", "")
    contract = served.contract
    declared = contract.inputs
    if type(raw_inputs) is not list or len(raw_inputs) != len(declared) or not raw_inputs \
            or type(request_id) is not str:
        return None
    allowance = ElementAllowance(len(body))
    tensors = []
    signature = []
    for raw in raw_inputs:
        tensor = _tensor(raw, declared, allowance)
        if tensor is None:
            return None
        tensors.append(tensor)
        signature.append((tensor.name, tensor.datatype, tensor.data.shape[1:]))
    if len(tensors) > 1 and len({tensor.name for tensor in tensors}) != len(tensors):
        return None
    max_rows = contract.max_rows
    if not max_rows:
        return tuple(tensors), 1, None, request_id
    shape = tensors[0].data.shape
    rows = shape[0] if shape else 0
    if not 1 <= rows <= max_rows or any(t.data.shape[0] != rows for t in tensors[1:]):
        return None
    return tuple(tensors), rows, tuple(signature), request_id


def _tensor(raw: Any, declared: Mapping[str, tuple[str, tuple[int, ...]]],
            allowance: ElementAllowance) -> Tensor | None:
    if type(raw) is not dict or raw.keys() != _TENSOR_KEYS:
        return None
    name = raw["name"]
    datatype = raw["datatype"]
    shape = raw["shape"]
    if type(name) is not str or type(shape) is not list:
        return None
    spec = declared.get(name)
    if spec is None or datatype != spec[0] or datatype in _SLOW_DATATYPES:
        return None
    wanted = spec[1]
    if len(shape) != len(wanted):
        return None
    for want, got in zip(wanted, shape, strict=True):
        if type(got) is not int or (want != -1 and want != got):
            return None
    try:
        count = allowance.claim(shape, name)  # the general path's bounds on a shape
        array = np.asarray(raw["data"], dtype=numpy_dtype(datatype))
        if array.size != count or array.ndim > MAX_DIMS:
            return None
        if array.dtype.kind == "f":
            flat = array.reshape(-1)
            if not math.isfinite(flat.dot(flat)):
                return None  # a NaN or an infinity (or a dot past the type's range): the
                # general path checks element by element and words the error
        return Tensor(name, datatype, array.reshape(shape))
    except (ValueError, TypeError, OverflowError, InvalidInput):
        return None
