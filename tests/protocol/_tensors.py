"""Sample tensors of every OIP datatype, and a JSON-safe encoding for results from subprocesses.

numpy only (no ebb, no tritonclient), so the client scripts that run in their own processes import
it too, as ``_tensors`` from their own folder.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DATATYPES = ("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
             "FP16", "FP32", "FP64", "BYTES")
"""Every Open Inference Protocol datatype."""

NUMPY = {
    "BOOL": np.dtype(np.bool_), "UINT8": np.dtype("<u1"), "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"), "UINT64": np.dtype("<u8"), "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"), "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}

CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents", "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
"""The typed ``InferTensorContents`` field of each datatype; FP16 has none (it travels raw)."""


def sample_arrays(json_safe: bool) -> dict[str, np.ndarray]:
    """A [2, 3] tensor per datatype holding its extremes.

    ``json_safe`` leaves out what JSON cannot carry: NaN and infinities, and BYTES that are not
    UTF-8 text.
    """
    arrays: dict[str, np.ndarray] = {
        "BOOL": np.array([[True, False, True], [False, False, True]]),
    }
    for datatype in ("UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"):
        info = np.iinfo(NUMPY[datatype])
        arrays[datatype] = np.array([[info.min, info.max, 1], [0, info.max - 1, info.min + 1]],
                                    dtype=NUMPY[datatype])
    special = [np.nan, np.inf, -np.inf] if not json_safe else [1.0, -0.0, 0.25]
    for datatype in ("FP16", "FP32", "FP64"):
        info = np.finfo(NUMPY[datatype])
        arrays[datatype] = np.array(
            [[float(info.max), float(info.tiny), -1 / 3], special], dtype=NUMPY[datatype])
    texts = [b"", b"abc", "h\u00e9llo \u2603".encode(), b"x" * 300, b'{"j": [1]}', b"a b"]
    if not json_safe:
        texts[4] = b"\xff\x00\xfe binary"
    arrays["BYTES"] = np.array(texts, dtype=object).reshape(2, 3)
    return arrays


def encode(array: np.ndarray) -> dict[str, Any]:
    """A tensor as JSON: its shape, numpy dtype and exact bytes (BYTES: each element's bytes)."""
    if array.dtype == object:
        items = [item if isinstance(item, bytes) else str(item).encode()
                 for item in array.reshape(-1)]
        return {"shape": list(array.shape), "numpy": "object",
                "items": [item.hex() for item in items]}
    return {"shape": list(array.shape), "numpy": array.dtype.str, "hex": array.tobytes().hex()}


def decode(encoded: dict[str, Any]) -> np.ndarray:
    if encoded["numpy"] == "object":
        array = np.empty(len(encoded["items"]), dtype=object)
        array[:] = [bytes.fromhex(item) for item in encoded["items"]]
        return array.reshape(encoded["shape"])
    return np.frombuffer(bytes.fromhex(encoded["hex"]),
                         dtype=np.dtype(encoded["numpy"])).reshape(encoded["shape"])


def assert_same_tensor(got: np.ndarray | None, expected: np.ndarray, datatype: str) -> None:
    """Same shape, same numpy dtype and the same bytes (so NaN, -0.0 and extremes count)."""
    assert got is not None, "the output is missing from the response"
    assert got.shape == expected.shape, f"shape {got.shape}, expected {expected.shape}"
    if datatype == "BYTES":
        assert got.dtype == object, f"BYTES came back as {got.dtype}"
        assert got.reshape(-1).tolist() == expected.reshape(-1).tolist()
        return
    assert got.dtype == NUMPY[datatype], f"{datatype} came back as {got.dtype}"
    assert got.tobytes() == expected.tobytes(), f"{got.tolist()} != {expected.tolist()}"
