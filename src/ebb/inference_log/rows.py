"""From an ``InferenceRecord`` to the rows the log stores: pure, run by the writer, not the hook.

A request's tensor metadata (direction, position, name, datatype, shape) is its *signature*:
traffic repeats a handful of them, so the store keeps each once (``signatures`` and
``signature_tensors``) and a request row points at its signature. Building one is a tuple of
tuples, hashable, so the store finds its id in a dict without formatting anything.

What else a request leaves depends on the capture mode:

- ``none``: nothing more (one row per request);
- ``hash``: a SHA-256 digest of each tensor's bytes, enough to prove what was sent without
  keeping it;
- ``full``: the bytes themselves: little-endian values in row-major order, and for BYTES
  tensors each element as a 4-byte little-endian length followed by its bytes (the layout of
  the Open Inference Protocol's binary tensor extension).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Literal, NamedTuple

import numpy as np

from ebb.core.dispatch import InferenceRecord
from ebb.core.types import Tensor

Capture = Literal["none", "hash", "full"]
CAPTURE_MODES: tuple[Capture, ...] = ("none", "hash", "full")
MAX_ERROR_CHARS = 1000

TensorMeta = tuple[str, str, tuple[int, ...]]
"""A tensor's name, datatype and shape."""
Signature = tuple[tuple[TensorMeta, ...], tuple[TensorMeta, ...]]
"""The inputs' and the outputs' metadata, in order."""
Direction = Literal["in", "out"]


class PayloadRow(NamedTuple):
    """A ``tensor_data`` row after ``request_id``: one tensor's digest or bytes."""

    direction: Direction
    position: int
    """Order of the tensor among the request's inputs (or the response's outputs)."""
    digest: bytes | None
    payload: bytes | None


class SignatureTensor(NamedTuple):
    """A ``signature_tensors`` row after ``signature_id``."""

    direction: Direction
    position: int
    name: str
    datatype: str
    shape: str
    """JSON list, e.g. ``[1, 16]``."""


class RequestRow(NamedTuple):
    """A tuple whose fields 2 to 10 are, in order, the ``requests`` columns after
    ``model_version_id`` (see ``ebb.inference_log.queries.REQUEST_COLUMNS``); the store
    turns the version, protocol and signature into ids. A named tuple costs a fraction of a
    dataclass to build."""

    model: str
    version: str
    """The version that answered; when none did, the one asked for ("" when none was named)."""
    client_request_id: str | None
    received_at: float
    """Unix time, seconds."""
    status: int
    latency_s: float
    queue_wait_s: float
    inference_s: float
    batch_size: int
    error: str | None
    api_key_id: str | None
    protocol: str
    """"rest", "rest_v1" or "grpc"; "" when the dispatcher was called in-process."""
    signature: Signature
    payloads: tuple[PayloadRow, ...]
    """Empty in ``none`` mode."""


def request_row(record: InferenceRecord, capture: Capture) -> RequestRow:
    """The row (with its signature and payload rows) for one record."""
    request, response = record.request, record.response
    inputs = tuple([(t.name, t.datatype, t.data.shape) for t in request.inputs])
    outputs: tuple[TensorMeta, ...]
    if response is None:
        model, version, outputs = request.model_name, request.model_version, ()
    else:
        model, version = response.model_name, response.model_version
        outputs = tuple([(t.name, t.datatype, t.data.shape) for t in response.outputs])
    payloads: tuple[PayloadRow, ...] = ()
    if capture != "none":
        payloads = (*_payload_rows("in", request.inputs, capture),
                    *_payload_rows("out", response.outputs if response else (), capture))
    error, wait = record.error, record.queue_wait_s
    return _new_row(RequestRow, (
        model, version, request.id or None, record.received_at, record.status, record.total_s,
        wait if wait > 0.0 else 0.0, record.inference_s, record.batch_size,
        None if error is None else _error_text(error), record.principal, record.protocol,
        (inputs, outputs), payloads))


_new_row = tuple.__new__
"""``RequestRow``'s own ``__new__`` is Python code that passes its fifteen arguments on to this:
called directly, a row costs half as much (it is built once per logged request)."""


def request_rows(records: Sequence[InferenceRecord], capture: Capture) -> list[RequestRow]:
    return [request_row(record, capture) for record in records]


async def request_rows_off_loop(records: Sequence[InferenceRecord], capture: Capture
                                ) -> list[RequestRow]:
    """``request_rows`` in a thread when it hashes or copies payloads (hashlib and numpy's
    copies release the GIL for large buffers); inline for metadata, which is cheaper than the
    thread hop."""
    if capture == "none":
        return request_rows(records, capture)
    return await asyncio.to_thread(request_rows, records, capture)


def signature_rows(signature: Signature) -> list[SignatureTensor]:
    """The ``signature_tensors`` rows of a signature: inputs, then outputs, by position."""
    sides: tuple[tuple[Direction, tuple[TensorMeta, ...]], ...] = (("in", signature[0]),
                                                                   ("out", signature[1]))
    return [SignatureTensor(direction, position, name, datatype, shape_text(shape))
            for direction, tensors in sides
            for position, (name, datatype, shape) in enumerate(tensors)]


def signature_key(signature: Signature) -> str:
    """The signature as one text, unique to it: what several servers writing to one database
    agree on (``signatures.spec``). One line per tensor,
    ``direction|position|datatype|shape|len|name``: the name last and length-prefixed, so no
    name can forge a boundary, and each line complete, so that the set of lines alone says what
    the signature is (migration 2 builds the same text in SQL from older rows, where
    SQLite does not promise the order of the lines)."""
    return "\n".join(f"{row.direction}|{row.position}|{row.datatype}|{row.shape}|"
                     f"{len(row.name)}|{row.name}" for row in signature_rows(signature))


def _payload_rows(direction: Direction, tensors: Iterable[Tensor], capture: Capture
                  ) -> list[PayloadRow]:
    rows = []
    for position, tensor in enumerate(tensors):
        raw = tensor_bytes(tensor)
        if capture == "hash":
            rows.append(PayloadRow(direction, position, hashlib.sha256(raw).digest(), None))
        else:
            rows.append(PayloadRow(direction, position, None, raw))
    return rows


@functools.lru_cache(maxsize=1024)
def shape_text(shape: tuple[int, ...]) -> str:
    """Shapes repeat from request to request: each is turned into JSON once."""
    return json.dumps(list(shape))


def tensor_bytes(tensor: Tensor) -> bytes:
    """The tensor's bytes: little-endian row-major values, BYTES elements length-prefixed."""
    data = tensor.data
    if tensor.datatype == "BYTES" or data.dtype.kind in ("O", "S", "U"):
        parts: list[bytes] = []
        for item in data.ravel():
            raw = item if isinstance(item, bytes) else str(item).encode()
            parts += (len(raw).to_bytes(4, "little"), raw)
        return b"".join(parts)
    little = data.dtype.newbyteorder("<") if data.dtype.byteorder == ">" else data.dtype
    return np.ascontiguousarray(data, dtype=little).tobytes()


def _error_text(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text[:MAX_ERROR_CHARS]
