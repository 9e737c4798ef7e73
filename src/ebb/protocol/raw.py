"""Raw tensor bytes, shared by REST's binary extension and gRPC's raw_*_contents.

Fixed-width datatypes are little-endian row-major; BYTES elements are each a 4-byte little-endian
length followed by the bytes. Nothing is allocated from a claimed shape before the bytes are
known to hold it: fixed-width data is a view of the buffer, and a BYTES count is checked against
the buffer (4 bytes per element at least) first.
"""

from __future__ import annotations

import struct

import numpy as np

from ebb.core.datatypes import element_count, numpy_dtype
from ebb.core.errors import InvalidInput

_LENGTH = struct.Struct("<I")


def tensor_from_raw(buffer: bytes | memoryview, datatype: str, shape: tuple[int, ...], name: str
                    ) -> np.ndarray:
    count = element_count(shape)
    if datatype == "BYTES":
        return _bytes_tensor_from_raw(buffer, shape, count, name)
    dtype = numpy_dtype(datatype)
    expected = count * dtype.itemsize
    if len(buffer) != expected:
        raise InvalidInput(
            f"input {name!r}: {len(buffer)} bytes of raw data, but shape {list(shape)} of "
            f"{datatype} needs {expected}"
        )
    return np.frombuffer(buffer, dtype=dtype).reshape(shape)


def _bytes_tensor_from_raw(buffer: bytes | memoryview, shape: tuple[int, ...], count: int,
                           name: str) -> np.ndarray:
    view = memoryview(buffer)
    if count * _LENGTH.size > len(view):
        raise InvalidInput(f"input {name!r}: shape {list(shape)} claims {count} BYTES elements, "
                           f"but {len(view)} bytes of raw data hold at most "
                           f"{len(view) // _LENGTH.size}")
    elements = np.empty(count, dtype=object)
    offset = 0
    for index in range(count):
        if offset + 4 > len(view):
            raise InvalidInput(f"input {name!r}: raw BYTES data ends before element {index}")
        (length,) = _LENGTH.unpack_from(view, offset)
        offset += 4
        if offset + length > len(view):
            raise InvalidInput(f"input {name!r}: raw BYTES element {index} runs past the data")
        elements[index] = bytes(view[offset:offset + length])
        offset += length
    if offset != len(view):
        raise InvalidInput(f"input {name!r}: {len(view) - offset} bytes left after {count} "
                           "BYTES elements")
    return elements.reshape(shape)


def tensor_to_raw(array: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        parts: list[bytes] = []
        for element in array.reshape(-1):
            item = element if isinstance(element, bytes) else str(element).encode()
            parts.append(_LENGTH.pack(len(item)))
            parts.append(item)
        return b"".join(parts)
    dtype = numpy_dtype(datatype)
    return np.ascontiguousarray(array, dtype=dtype).tobytes()
