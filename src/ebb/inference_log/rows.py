"""From an ``InferenceRecord`` to the rows the log stores: pure, run by the writer, not the hook.

What a tensor row holds depends on the capture mode:

- ``none``: name, datatype and shape only (metadata);
- ``hash``: plus a SHA-256 digest of the tensor's bytes, enough to prove what was sent without
  keeping it;
- ``full``: plus the bytes themselves: little-endian values in row-major order, and for BYTES
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


class TensorRow(NamedTuple):
    """A tuple in the order of the ``tensors`` columns after ``request_id``: rows are written
    in bulk, and a named tuple costs a fraction of a dataclass to build."""

    direction: Literal["in", "out"]
    position: int
    """Order of the tensor among the request's inputs (or the response's outputs)."""
    name: str
    datatype: str
    shape: str
    """JSON list, e.g. ``[1, 16]``."""
    digest: bytes | None
    payload: bytes | None


class RequestRow(NamedTuple):
    """A tuple whose fields 2 to 10 are, in order, the ``requests`` columns after ``id`` and
    ``model_version_id`` (see ``ebb.inference_log.queries.REQUEST_COLUMNS``)."""

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
    """Not carried by ``InferenceRecord`` yet: always None for now."""
    tensors: tuple[TensorRow, ...]


def request_row(record: InferenceRecord, capture: Capture) -> RequestRow:
    """The row (and its tensor rows) for one record."""
    request, response = record.request, record.response
    tensors = [*_tensor_rows("in", request.inputs, capture)]
    if response is not None:
        tensors += _tensor_rows("out", response.outputs, capture)
    return RequestRow(
        response.model_name if response is not None else request.model_name,
        response.model_version if response is not None else request.model_version,
        request.id or None, record.received_at, record.status, record.total_s,
        max(record.queue_wait_s, 0.0), record.inference_s, record.batch_size,
        _error_text(record.error), None, tuple(tensors))


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


def _tensor_rows(direction: Literal["in", "out"], tensors: Iterable[Tensor], capture: Capture
                 ) -> list[TensorRow]:
    rows = []
    for position, tensor in enumerate(tensors):
        digest = payload = None
        if capture != "none":
            raw = tensor_bytes(tensor)
            if capture == "hash":
                digest = hashlib.sha256(raw).digest()
            else:
                payload = raw
        rows.append(TensorRow(direction, position, tensor.name, tensor.datatype,
                              _shape_text(tensor.data.shape), digest, payload))
    return rows


@functools.lru_cache(maxsize=1024)
def _shape_text(shape: tuple[int, ...]) -> str:
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


def _error_text(error: BaseException | None) -> str | None:
    if error is None:
        return None
    text = str(error) or type(error).__name__
    return text[:MAX_ERROR_CHARS]
