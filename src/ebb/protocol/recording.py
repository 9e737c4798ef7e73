"""Status and timing of every infer call, recorded in one place for REST, REST V1 and gRPC.

    with self._record(request.model_name, "grpc"):
        response = await self._dispatcher.infer(request)

The block is timed, its outcome mapped to an HTTP status (200; an ``EbbError``'s status; 500
for anything else) and reported once to the ``RequestRecorder``. Names that are not served are
not recorded, so a client cannot create metric series by asking for made-up models.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from time import perf_counter
from types import TracebackType

from ebb.core.caller import set_protocol
from ebb.core.dispatch import Dispatcher, RequestRecorder, status_of

_UNRECORDED: AbstractContextManager[None] = contextlib.nullcontext()


class InferRecording:
    """Hands out one timer per infer call of a served model."""

    __slots__ = ("_dispatcher", "_recorder")

    def __init__(self, dispatcher: Dispatcher, recorder: RequestRecorder) -> None:
        self._dispatcher = dispatcher
        self._recorder = recorder

    def __call__(self, model: str, protocol: str) -> AbstractContextManager[None]:
        set_protocol(protocol)  # for the dispatcher's InferenceRecord (ebb.core.caller)
        if model not in self._dispatcher.model_names():
            return _UNRECORDED
        return _Timed(self._recorder, model, protocol)


class _Timed:
    """Made at the ``with``, so the clock starts in ``__init__`` (the hot path: fewest calls)."""

    __slots__ = ("_model", "_protocol", "_recorder", "_started")

    def __init__(self, recorder: RequestRecorder, model: str, protocol: str) -> None:
        self._recorder = recorder
        self._model = model
        self._protocol = protocol
        self._started = perf_counter()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._recorder.request_done(self._model, self._protocol,
                                    200 if error is None else status_of(error),
                                    perf_counter() - self._started)
