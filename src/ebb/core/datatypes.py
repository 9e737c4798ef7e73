"""Open Inference Protocol datatypes and their numpy equivalents.

BYTES tensors are numpy object arrays whose elements are ``bytes``; every other datatype maps to a
fixed-width little-endian numpy dtype, so raw/binary payloads are read with ``np.frombuffer``.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from ebb.core.errors import InvalidInput

NUMPY_BY_DATATYPE: Final[dict[str, np.dtype]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}

DATATYPES: Final[tuple[str, ...]] = tuple(NUMPY_BY_DATATYPE)

_DATATYPE_BY_KIND: Final[dict[tuple[str, int], str]] = {
    (dt.kind, dt.itemsize): name for name, dt in NUMPY_BY_DATATYPE.items() if name != "BYTES"
}


def numpy_dtype(datatype: str) -> np.dtype:
    """The numpy dtype for an OIP datatype name; unknown names are a client error."""
    try:
        return NUMPY_BY_DATATYPE[datatype]
    except KeyError:
        raise InvalidInput(
            f"unknown datatype {datatype!r}; expected one of {', '.join(DATATYPES)}"
        ) from None


def datatype_of(array: np.ndarray) -> str:
    """The OIP datatype name for a numpy array (object, str and bytes arrays are BYTES)."""
    kind = array.dtype.kind
    if kind in ("O", "S", "U"):
        return "BYTES"
    try:
        return _DATATYPE_BY_KIND[(kind, array.dtype.itemsize)]
    except KeyError:
        raise TypeError(
            f"numpy dtype {array.dtype} has no Open Inference Protocol datatype") from None


def element_count(shape: tuple[int, ...]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count
