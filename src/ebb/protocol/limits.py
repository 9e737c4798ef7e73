"""Bounds on what one request may make the server do, checked before memory is committed.

A claimed shape is only a claim: ``[1, 400000000]`` costs 284 bytes to send and 3 GB to allocate.
Every element of every encoding (JSON text, the binary extension, gRPC contents or raw bytes)
takes at least one byte of the body, so a body of B bytes carries at most B elements across all
its tensors; a shape claiming more is refused before numpy allocates anything::

    allowance = ElementAllowance(len(body))
    count = allowance.claim(shape, name)   # raises InvalidInput naming the input

Ranks are capped at ``MAX_DIMS``: numpy holds at most 64, ONNX Runtime and TensorRT models use
8 or fewer, and a rank of 17 or more is a hostile or broken client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ebb.core.errors import InvalidInput

MAX_DIMS = 16
"""Most dimensions a tensor may have (also the deepest nesting of JSON ``data``)."""

_MAX_SPREAD = 2**48
"""Largest product of a shape's non-zero dimensions: keeps even empty tensors within what
numpy can index."""

MAX_HEADER_DIGITS = 18
"""Digits in a numeric header or parameter: 10^18 - 1 still fits an int64 and a float timer."""


class ElementAllowance:
    """The elements a request may still claim, one per byte of its body."""

    __slots__ = ("_body_bytes", "_left")

    def __init__(self, body_bytes: int) -> None:
        self._body_bytes = body_bytes
        self._left = body_bytes

    def claim(self, shape: Sequence[int], name: str) -> int:
        """The element count of ``shape``, refused when the body cannot carry it or numpy could
        not index it (a dimension of 0 does not excuse huge ones)."""
        if len(shape) > MAX_DIMS:
            raise InvalidInput(f"input {name!r}: shape has {len(shape)} dimensions; at most "
                               f"{MAX_DIMS} are allowed")
        count = 1
        spread = 1
        for dim in shape:
            if dim < 0:
                raise InvalidInput(f"input {name!r}: shape dimensions must not be negative")
            count *= dim
            spread *= dim or 1
            if spread > _MAX_SPREAD:
                raise InvalidInput(f"input {name!r}: shape {_shown(shape)} is too large")
        if count > self._left:
            raise InvalidInput(
                f"input {name!r}: shape {_shown(shape)} claims {count} elements, more than "
                f"{self._body_bytes} bytes of request data can carry")
        self._left -= count
        return count


def checked_count(shape: Sequence[int], name: str) -> int:
    """The element count of ``shape``, with the rank and size checks of ``ElementAllowance``
    but no body bound (for data whose element count is compared exactly, as gRPC contents)."""
    return ElementAllowance(_MAX_SPREAD).claim(shape, name)


def _shown(shape: Sequence[int]) -> str:
    text = str(list(shape))
    return text if len(text) <= 80 else text[:77] + "..."


def flatten(data: Any, name: str) -> list[Any]:
    """Nested JSON lists as one flat list, in row-major order, without recursion; nesting
    deeper than ``MAX_DIMS`` is refused (a 1000-deep list is an attack, not a tensor)."""
    if not isinstance(data, list):
        return [data]
    if not data or not isinstance(data[0], list):
        return data
    flat: list[Any] = []
    stack: list[tuple[list[Any], int]] = [(data, 0)]
    while stack:
        items, index = stack.pop()
        while index < len(items):
            item = items[index]
            index += 1
            if isinstance(item, list):
                if len(stack) + 2 > MAX_DIMS:
                    raise InvalidInput(f"input {name!r}: data is nested more than {MAX_DIMS} "
                                       "deep")
                stack.append((items, index))
                items, index = item, 0
            else:
                flat.append(item)
    return flat


def count_header(key: str, value: bytes) -> int:
    """A non-negative decimal integer of plain ASCII digits (no sign, spaces or ``1_000``),
    at most ``MAX_HEADER_DIGITS`` long; anything else is a client error naming the header."""
    if not value.isdigit() or len(value) > MAX_HEADER_DIGITS:
        shown = value[:40].decode("latin-1") + ("..." if len(value) > 40 else "")
        raise InvalidInput(f"header {key} must be a non-negative integer of at most "
                           f"{MAX_HEADER_DIGITS} digits, not {shown!r}")
    return int(value)
