"""The seam the protocol adapters call, and what each inference reports after it is answered.

REST and gRPC hold a ``Dispatcher`` and nothing else of serving: they decode into an
``InferRequest``, await ``Dispatcher.infer`` and encode the answer. ``ebb.serving`` provides the
real one (``QueueDispatcher``: queue, batches, worker processes); ``ebb.core.fake_dispatcher``
provides an in-memory one, so the adapters are tested without processes.

After each inference a dispatcher hands an ``InferenceRecord`` to its ``InferenceHook``s: the
place for an inference log or an audit sink. Hooks run on the event loop in the request's path,
so they must not block: enqueue the record and return.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ebb.core.datatypes import datatype_of
from ebb.core.errors import EbbError, InvalidInput
from ebb.core.types import InferRequest, InferResponse, ModelMetadata, Tensor

log = logging.getLogger("ebb.dispatch")

CLIENT_CLOSED_REQUEST = 499
"""The client went away (or its gRPC deadline passed) before the answer: nginx's status for it,
kept apart from 5xx so that an impatient client does not look like a server fault."""


class Dispatcher(Protocol):
    """What the protocol adapters need from serving: names, metadata, readiness and ``infer``.

    ``metadata``, ``ready`` and ``infer`` raise ``ModelNotFound`` for a name or version not
    served; ``infer`` raises the other ``EbbError``s for what went wrong while answering.
    """

    def model_names(self) -> tuple[str, ...]: ...

    def metadata(self, name: str, version: str = "") -> ModelMetadata: ...

    def ready(self, name: str, version: str = "") -> bool: ...

    async def infer(self, request: InferRequest) -> InferResponse: ...


class RequestRecorder(Protocol):
    """What the protocol adapters report per answered request (``code`` is the HTTP status)."""

    def request_done(self, model: str, protocol: str, code: int, seconds: float) -> None: ...


@dataclass(slots=True)
class InferenceRecord:
    """One answered (or failed) inference, as a hook sees it. Durations are in seconds.

    Built once per request, so not frozen: a frozen dataclass's ``__init__`` sets each field
    through ``object.__setattr__`` and costs about four times as much. Hooks must not modify
    it (several may see the same record)."""

    request: InferRequest
    response: InferResponse | None
    """None when the inference failed."""
    error: BaseException | None
    """What ``infer`` raised; None on success."""
    status: int
    """The HTTP status the request maps to (200, an ``EbbError``'s status, or 500)."""
    received_at: float
    """Wall-clock time (``time.time()``) the dispatcher received the request."""
    queue_wait_s: float
    """From admission to a worker taking its batch; 0 when it was never admitted."""
    inference_s: float
    """Worker time of the batch that answered it; 0 when it never reached a worker."""
    total_s: float
    """From receipt by the dispatcher to the answer or the error."""
    batch_size: int
    """Requests in the batch that answered it; 0 when it never reached a worker."""
    protocol: str
    """The protocol it came in over ("rest", "rest_v1", "grpc"; "" when called in-process)."""
    principal: str | None
    """The id of the API key that authenticated it; None when keys are off."""


InferenceHook = Callable[[InferenceRecord], None]
"""Called after every inference, success or failure. Must not block: enqueue and return."""


def status_of(error: BaseException | None) -> int:
    """The HTTP status an outcome maps to: 200, an ``EbbError``'s own status, 499 when the
    client cancelled, or else 500."""
    if error is None:
        return 200
    if isinstance(error, EbbError):
        return error.http_status
    if isinstance(error, asyncio.CancelledError):
        return CLIENT_CLOSED_REQUEST
    return 500


class HookRunner:
    """Calls every hook with a record; a failing hook never fails the request.

    Each hook's first failure is logged with its traceback, later ones only at debug level, so
    a broken hook cannot flood the log at thousands of requests a second.
    """

    __slots__ = ("_failed", "hooks")

    def __init__(self, hooks: Sequence[InferenceHook]) -> None:
        self.hooks = tuple(hooks)
        self._failed: set[int] = set()

    def __call__(self, record: InferenceRecord) -> None:
        for index, hook in enumerate(self.hooks):
            try:
                hook(record)
            except Exception:
                if index in self._failed:
                    log.debug("inference hook %r failed again", hook, exc_info=True)
                else:
                    self._failed.add(index)
                    log.exception("inference hook %r failed; the request is unaffected "
                                  "(later failures of this hook are logged at debug level)",
                                  hook)


def select_outputs(outputs: Mapping[str, np.ndarray], request: InferRequest
                   ) -> tuple[Tensor, ...]:
    """The outputs the request asked for (all when it named none), as tensors."""
    names = [requested.name for requested in request.outputs] or list(outputs)
    selected = []
    for name in names:
        array = outputs.get(name)
        if array is None:
            raise InvalidInput(f"the model produced no output {name!r}")
        selected.append(Tensor(name, datatype_of(array), array))
    return tuple(selected)
