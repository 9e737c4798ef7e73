"""``--cast-inputs``: convert a numeric input to the model's declared datatype when it is safe.

Strict by default, as Triton: an FP64 tensor for an FP32 input is a 400. numpy's default is
float64, though, so with ``--cast-inputs`` the gateway converts when no value changes beyond
the declared type's precision: floats to a float type whose range holds every value, integers
to any integer or float type whose range holds every value. Floats never become integers, and
BOOL and BYTES are never converted; those stay a 400 naming the input.

    front = with_casting(dispatcher) if settings.cast_inputs else dispatcher
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ebb.core.datatypes import numpy_dtype
from ebb.core.dispatch import Dispatcher
from ebb.core.errors import InvalidInput
from ebb.core.types import InferRequest, InferResponse, ModelMetadata, Tensor

_NUMERIC = ("FP", "INT", "UINT")


def cast_value(tensor: Tensor, datatype: str) -> Tensor:
    """``tensor`` as ``datatype``; InvalidInput when the conversion could change a value."""
    if tensor.datatype == datatype or not tensor.datatype.startswith(_NUMERIC) \
            or not datatype.startswith(_NUMERIC):
        return tensor
    source, target = tensor.data.dtype, numpy_dtype(datatype)
    data = tensor.data
    why = ""
    if target.kind in "iu" and source.kind == "f":
        why = "floats are never converted to integers"
    elif data.size:
        info: Any = np.finfo(target) if target.kind == "f" else np.iinfo(target)
        finite = data[np.isfinite(data)] if source.kind == "f" else data
        if finite.size and (finite.min() < info.min or finite.max() > info.max):
            why = f"a value is outside {datatype}'s range"
    if why:
        raise InvalidInput(f"input {tensor.name!r} must be {datatype}, got {tensor.datatype}, "
                           f"and --cast-inputs cannot convert it: {why}")
    return replace(tensor, datatype=datatype, data=data.astype(target))


def cast_request(request: InferRequest, metadata: ModelMetadata) -> InferRequest:
    """The request with each input converted to its declared datatype where one differs."""
    declared = {spec.name: spec.datatype for spec in metadata.inputs}
    if all(declared.get(t.name, t.datatype) == t.datatype for t in request.inputs):
        return request
    inputs = tuple(cast_value(t, declared[t.name]) if t.name in declared else t
                   for t in request.inputs)
    return replace(request, inputs=inputs)


class CastingDispatcher:
    """A ``Dispatcher`` that casts inputs before handing requests on; everything else is the
    wrapped dispatcher's."""

    def __init__(self, inner: Dispatcher) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def model_names(self) -> tuple[str, ...]:
        return self._inner.model_names()

    def metadata(self, name: str, version: str = "") -> ModelMetadata:
        return self._inner.metadata(name, version)

    def ready(self, name: str, version: str = "") -> bool:
        return self._inner.ready(name, version)

    async def infer(self, request: InferRequest) -> InferResponse:
        metadata = self._inner.metadata(request.model_name, request.model_version)
        return await self._inner.infer(cast_request(request, metadata))


def with_casting(dispatcher: Dispatcher, enabled: bool) -> Dispatcher:
    return CastingDispatcher(dispatcher) if enabled else dispatcher
