"""``QueueDispatcher``, the ``Dispatcher`` REST and gRPC call: validates, admits, waits, answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ebb.core.caller import principal, protocol
from ebb.core.datatypes import datatype_of
from ebb.core.dispatch import HookRunner, InferenceHook, InferenceRecord, select_outputs, status_of
from ebb.core.errors import InvalidInput, ModelNotFound
from ebb.core.types import InferRequest, InferResponse, ModelMetadata, Tensor
from ebb.runtime.base import ModelSource
from ebb.serving.batching import BatchPolicy
from ebb.serving.queue import ModelQueue, Pending
from ebb.serving.stats import ModelStats, ServingObserver
from ebb.serving.workers import DEFAULT_MAX_BATCH_RUNTIME_S, WorkerPool


@dataclass
class ServedModel:
    metadata: ModelMetadata
    queue: ModelQueue
    pool: WorkerPool
    stats: ModelStats
    default_timeout_s: float | None
    scale_from_zero: bool = False
    """Whether requests are buffered while the first worker starts (min workers 0)."""
    warmed: bool = False
    """Whether a warm-up inference succeeded (``ebb.serving.warmup``): readiness waits for it."""
    contract: ModelContract = field(init=False, repr=False)
    """The metadata's checks, prepared once (``ModelContract``)."""

    def __post_init__(self) -> None:
        self.contract = ModelContract(self.metadata)

    @property
    def name(self) -> str:
        return self.metadata.name

    @classmethod
    def create(cls, source: ModelSource, metadata: ModelMetadata, policy: BatchPolicy,
               max_queue_size: int, default_timeout_s: float | None, scale_from_zero: bool,
               observer: ServingObserver, context: Any,
               max_batch_runtime_s: float = DEFAULT_MAX_BATCH_RUNTIME_S,
               warmed: bool = False) -> ServedModel:
        """Wire a model's queue and worker pool together; no worker is started yet.

        ``warmed``: whether it counts as ready without a warm-up inference (callers that run
        ``ebb.serving.warmup`` pass False)."""
        queue = ModelQueue(policy, max_queue_size)
        stats = ModelStats()
        pool = WorkerPool(metadata.name, source, metadata, queue, stats, observer, context)
        pool.max_batch_runtime_s = max_batch_runtime_s
        return cls(metadata, queue, pool, stats, default_timeout_s, scale_from_zero, warmed)


class QueueDispatcher:
    """The ``ebb.core.dispatch.Dispatcher`` of a gateway: one queue and worker pool per model.

    ``hooks`` are called after every inference with its ``InferenceRecord`` (timings from the
    queue and the worker); they must not block: enqueue the record and return. A hook that
    raises is logged and never fails the request.
    """

    def __init__(self, models: Mapping[str, ServedModel],
                 hooks: Sequence[InferenceHook] = ()) -> None:
        self.models = dict(models)
        """The served models by name; fixed once the dispatcher is built."""
        self._names = tuple(self.models)
        self._hooks = HookRunner(hooks) if hooks else None
        self.draining = False
        """Set at the start of a shutdown: readiness is false from then on, though accepted and
        new requests are still served until the queues close."""

    def model_names(self) -> tuple[str, ...]:
        return self._names

    def metadata(self, name: str, version: str = "") -> ModelMetadata:
        return self.model(name, version).metadata

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
        """Ready when the model answered its warm-up and a worker can answer now (idle, or busy
        with a batch not past its deadline), or when scale-from-zero will start one; never while
        the server shuts down."""
        served = self.model(name, version)
        if self.draining or not served.warmed:
            return False
        return served.scale_from_zero or served.pool.can_answer(asyncio.get_running_loop().time())

    def direct(self, name: str, version: str = "") -> ServedModel | None:
        """The served model a request for (name, version) reaches with nothing in between;
        None for anything else (unknown names and versions: ``model`` words their errors)."""
        served = self.models.get(name)
        if served is None or (version and version not in served.metadata.versions):
            return None
        return served

    async def infer(self, request: InferRequest) -> InferResponse:
        if self._hooks is not None:
            return await self._infer_and_report(request, self._hooks, None, 0, None)
        served = self.model(request.model_name, request.model_version)
        pending = admit(served, request)
        return served.contract.response(request, await pending.future)

    async def infer_checked(self, served: ServedModel, request: InferRequest, rows: int,
                            signature: Hashable) -> InferResponse:
        """``infer`` for a request its caller already matched to ``served`` (``direct``) and
        checked against its contract: ``rows`` and ``signature`` as ``ModelContract.check``
        gives them (``ebb.app.flat_infer``, the common REST call without the layers)."""
        if self._hooks is not None:
            return await self._infer_and_report(request, self._hooks, served, rows, signature)
        pending = enqueue(served, request, rows, signature)
        return served.contract.response(request, await pending.future)

    async def _infer_and_report(self, request: InferRequest, hooks: HookRunner,
                                checked: ServedModel | None, rows: int, signature: Hashable
                                ) -> InferResponse:
        received_at = time.time()
        started = time.perf_counter()
        pending: Pending | None = None
        response: InferResponse | None = None
        error: BaseException | None = None
        try:
            if checked is None:
                served = self.model(request.model_name, request.model_version)
                pending = admit(served, request)
            else:
                served = checked
                pending = enqueue(served, request, rows, signature)
            response = served.contract.response(request, await pending.future)
            return response
        except BaseException as caught:
            error = caught
            raise
        finally:
            total_s = time.perf_counter() - started
            queue_wait_s = inference_s = 0.0
            batch_size = 0
            if pending is not None:
                batch_size = pending.batch_size
                inference_s = pending.inference_s
                waited_until = pending.taken_at if batch_size else asyncio.get_running_loop().time()
                queue_wait_s = waited_until - pending.enqueued_at
            hooks(InferenceRecord(request, response, error, status_of(error), received_at,
                                  queue_wait_s, inference_s, total_s, batch_size, protocol(),
                                  principal()))


def admit(served: ServedModel, request: InferRequest) -> Pending:
    """Validate and queue a request (``Unavailable`` at once when the queue is full)."""
    rows, signature = served.contract.check(request)
    return enqueue(served, request, rows, signature)


def enqueue(served: ServedModel, request: InferRequest, rows: int, signature: Hashable
            ) -> Pending:
    """Queue a request already checked against ``served.contract``."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[object] = loop.create_future()
    pending = Pending(request, rows, signature, future)
    timeout_s = request.timeout_s if request.timeout_s is not None else served.default_timeout_s
    served.queue.put(pending, loop.time() + timeout_s if timeout_s else None)
    served.stats.arrivals += 1
    return pending


class ModelContract:
    """A model's declaration, prepared once for the checks and answers of every request.

    ``check`` is ``validate`` without its per-request tables; anything off the common path
    (a missing, unknown or repeated input, a wrong datatype, shape or batch size, an unknown
    output) goes to ``validate``, which says precisely what is wrong."""

    __slots__ = ("_batchable", "_inputs", "_max_rows", "_outputs", "metadata", "name",
                 "version")

    def __init__(self, metadata: ModelMetadata) -> None:
        self.metadata = metadata
        self.name = metadata.name
        self.version = metadata.version
        self._inputs = {spec.name: (spec.datatype, spec.shape) for spec in metadata.inputs}
        self._outputs = {spec.name: spec.datatype for spec in metadata.outputs}
        self._batchable = metadata.max_batch_size > 0
        self._max_rows = metadata.max_batch_size

    @property
    def inputs(self) -> Mapping[str, tuple[str, tuple[int, ...]]]:
        """Each declared input's (datatype, shape), by name, in declaration order."""
        return self._inputs

    @property
    def max_rows(self) -> int:
        """The model's max_batch_size: 0 when it takes no batch dimension."""
        return self._max_rows

    def check(self, request: InferRequest) -> tuple[int, Hashable]:
        """(batch rows, batching signature), as ``validate``; raises as ``validate`` does."""
        inputs = request.inputs
        declared = self._inputs
        rows = -1
        for tensor in inputs:
            spec = declared.get(tensor.name)
            shape = tensor.data.shape
            if (spec is None or tensor.datatype != spec[0] or len(shape) != len(spec[1])
                    or any(want != got and want != -1
                           for want, got in zip(spec[1], shape, strict=True))):
                return validate(request, self.metadata)
            if rows == -1:
                rows = shape[0] if shape else 0
            elif self._batchable and shape[0] != rows:
                return validate(request, self.metadata)
        if (len(inputs) != len(declared)
                or (len(inputs) > 1 and len({t.name for t in inputs}) != len(inputs))
                or any(wanted.name not in self._outputs for wanted in request.outputs)):
            return validate(request, self.metadata)
        if not self._batchable:
            return 1, None
        if rows < 1 or rows > self._max_rows:
            return validate(request, self.metadata)
        return rows, tuple((t.name, t.datatype, t.data.shape[1:]) for t in inputs)

    def response(self, request: InferRequest, outputs: object) -> InferResponse:
        """The answer from a worker's outputs: all of them, or those the request named."""
        assert isinstance(outputs, dict)
        if request.outputs:
            selected = select_outputs(outputs, request)
        else:
            declared = self._outputs
            selected = tuple(Tensor(name, declared.get(name) or datatype_of(array), array)
                             for name, array in outputs.items())
        return InferResponse(model_name=self.name, model_version=self.version, id=request.id,
                             outputs=selected)



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
                               f"got {tensor.datatype} (a server started with --cast-inputs "
                               "converts numeric inputs when no value changes)")
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
