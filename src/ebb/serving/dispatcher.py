"""``Dispatcher.infer``: the one call REST and gRPC make. Validates, admits, waits, answers."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ebb.core.datatypes import datatype_of
from ebb.core.errors import InvalidInput, ModelNotFound
from ebb.core.types import InferRequest, InferResponse, ModelMetadata, Tensor
from ebb.runtime.base import ModelSource
from ebb.serving.batching import BatchPolicy
from ebb.serving.queue import ModelQueue, Pending
from ebb.serving.stats import ModelStats, ServingObserver
from ebb.serving.workers import WorkerPool


@dataclass
class ServedModel:
    metadata: ModelMetadata
    queue: ModelQueue
    pool: WorkerPool
    stats: ModelStats
    default_timeout_s: float | None
    scale_from_zero: bool = False
    """Whether requests are buffered while the first worker starts (min workers 0)."""

    @property
    def name(self) -> str:
        return self.metadata.name

    @classmethod
    def create(cls, source: ModelSource, metadata: ModelMetadata, policy: BatchPolicy,
               max_queue_size: int, default_timeout_s: float | None, scale_from_zero: bool,
               observer: ServingObserver, context: Any) -> ServedModel:
        """Wire a model's queue and worker pool together; no worker is started yet."""
        queue = ModelQueue(policy, max_queue_size)
        stats = ModelStats()
        pool = WorkerPool(metadata.name, source, metadata, queue, stats, observer, context)
        return cls(metadata, queue, pool, stats, default_timeout_s, scale_from_zero)


class Dispatcher:
    def __init__(self, models: Mapping[str, ServedModel]) -> None:
        self.models = dict(models)

    def model(self, name: str, version: str = "") -> ServedModel:
        served = self.models.get(name)
        if served is None:
            raise ModelNotFound(f"model {name!r} is not served here; models: "
                                f"{', '.join(sorted(self.models)) or 'none'}")
        if version and version not in served.metadata.versions:
            raise ModelNotFound(f"model {name!r} has no version {version!r}; versions: "
                                f"{', '.join(served.metadata.versions)}")
        return served

    def ready(self, name: str, version: str = "") -> bool:
        """Ready when a worker can answer, or when scale-from-zero will start one for it."""
        served = self.model(name, version)
        return served.scale_from_zero or served.pool.counts().ready > 0

    async def infer(self, request: InferRequest) -> InferResponse:
        served = self.model(request.model_name, request.model_version)
        metadata = served.metadata
        rows, signature = validate(request, metadata)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        pending = Pending(request, rows, signature, future)
        timeout_s = request.timeout_s if request.timeout_s is not None else served.default_timeout_s
        served.queue.put(pending, loop.time() + timeout_s if timeout_s else None)
        served.stats.arrivals += 1
        outputs = await future
        assert isinstance(outputs, dict)
        return InferResponse(
            model_name=metadata.name,
            model_version=metadata.version,
            id=request.id,
            outputs=_select_outputs(outputs, request),
        )


def validate(request: InferRequest, metadata: ModelMetadata) -> tuple[int, Hashable]:
    """Check inputs against the model's declaration; returns (batch rows, batching signature)."""
    declared = {spec.name: spec for spec in metadata.inputs}
    given = {tensor.name for tensor in request.inputs}
    missing = [name for name in declared if name not in given]
    if missing:
        raise InvalidInput(f"model {metadata.name!r} needs input(s) {', '.join(missing)}")
    if len(given) != len(request.inputs):
        raise InvalidInput("an input name appears more than once")
    batchable = metadata.max_batch_size > 0
    rows = -1
    for tensor in request.inputs:
        spec = declared.get(tensor.name)
        if spec is None:
            raise InvalidInput(f"model {metadata.name!r} has no input {tensor.name!r}; inputs: "
                               f"{', '.join(declared)}")
        if tensor.datatype != spec.datatype:
            raise InvalidInput(f"input {tensor.name!r} must be {spec.datatype}, "
                               f"got {tensor.datatype}")
        shape = tensor.data.shape
        if len(shape) != len(spec.shape) or any(
            want not in (-1, got) for want, got in zip(spec.shape, shape, strict=True)
        ):
            raise InvalidInput(f"input {tensor.name!r} has shape {list(shape)}, the model "
                               f"expects {list(spec.shape)} (-1: any size)")
        if batchable:
            if rows == -1:
                rows = shape[0]
            elif shape[0] != rows:
                raise InvalidInput("all inputs must have the same batch size (dimension 0)")
    if batchable and rows == 0:
        raise InvalidInput("batch size (dimension 0) must be at least 1")
    if batchable and rows > metadata.max_batch_size:
        raise InvalidInput(f"batch of {rows} rows is over model {metadata.name!r}'s "
                           f"max_batch_size {metadata.max_batch_size}")
    declared_outputs = {spec.name for spec in metadata.outputs}
    for requested in request.outputs:
        if requested.name not in declared_outputs:
            raise InvalidInput(f"model {metadata.name!r} has no output {requested.name!r}; "
                               f"outputs: {', '.join(sorted(declared_outputs))}")
    if not batchable:
        return 1, None
    signature = tuple((t.name, t.datatype, t.data.shape[1:]) for t in request.inputs)
    return rows, signature


def _select_outputs(outputs: dict[str, np.ndarray], request: InferRequest) -> tuple[Tensor, ...]:
    names = [requested.name for requested in request.outputs] or list(outputs)
    selected = []
    for name in names:
        array = outputs.get(name)
        if array is None:
            raise InvalidInput(f"the model produced no output {name!r}")
        selected.append(Tensor(name, datatype_of(array), array))
    return tuple(selected)
