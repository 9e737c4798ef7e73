"""An in-memory ``Dispatcher``: protocol adapters and their tests run without worker processes.

    fake = FakeDispatcher([metadata], lambda inputs: {"OUTPUT0": inputs["INPUT0"] * 2})
    app = RestApp(fake, ServerInfo("ebb", "test"), recorder, 1 << 20, {})

Switches make it misbehave on purpose: ``error`` makes every ``infer`` raise it, ``hang`` makes
every ``infer`` wait until the request's deadline (then ``DeadlineExceeded``) or forever.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from ebb.core.caller import principal, protocol
from ebb.core.dispatch import HookRunner, InferenceHook, InferenceRecord, select_outputs, status_of
from ebb.core.errors import DeadlineExceeded, ModelNotFound
from ebb.core.types import InferRequest, InferResponse, ModelMetadata

Compute = Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]]
"""A model as a plain function: input arrays by name to output arrays by name."""


class FakeDispatcher:
    """A ``Dispatcher`` over metadata and a function: answers at once, one request per batch."""

    def __init__(self, models: Iterable[ModelMetadata], compute: Compute,
                 hooks: Sequence[InferenceHook] = ()) -> None:
        self._models = {metadata.name: metadata for metadata in models}
        self._names = tuple(self._models)
        self._compute = compute
        self._hooks = HookRunner(hooks)
        self.error: BaseException | None = None
        """When set, every ``infer`` of a served model raises it."""
        self.hang = False
        """When true, every ``infer`` waits for the request's deadline, or forever."""
        self.not_ready: set[str] = set()
        """Model names that report not ready."""
        self.requests: list[InferRequest] = []
        """Every request ``infer`` was given, in order."""

    def model_names(self) -> tuple[str, ...]:
        return self._names

    def metadata(self, name: str, version: str = "") -> ModelMetadata:
        metadata = self._models.get(name)
        if metadata is None:
            raise ModelNotFound(f"model {name!r} is not served here; models: "
                                f"{', '.join(self._names) or 'none'}")
        if version and version not in metadata.versions:
            raise ModelNotFound(f"model {name!r} has no version {version!r}; versions: "
                                f"{', '.join(metadata.versions)}")
        return metadata

    def ready(self, name: str, version: str = "") -> bool:
        self.metadata(name, version)
        return name not in self.not_ready

    async def infer(self, request: InferRequest) -> InferResponse:
        self.requests.append(request)
        received_at = time.time()
        started = time.perf_counter()
        response: InferResponse | None = None
        error: BaseException | None = None
        inference_s = 0.0
        batch_size = 0
        try:
            metadata = self.metadata(request.model_name, request.model_version)
            if self.hang:
                await _hang(request.timeout_s)
            if self.error is not None:
                raise self.error
            computed = time.perf_counter()
            outputs = self._compute({t.name: t.data for t in request.inputs})
            inference_s = time.perf_counter() - computed
            batch_size = 1
            response = InferResponse(metadata.name, metadata.version,
                                     select_outputs(outputs, request), request.id)
            return response
        except BaseException as caught:
            error = caught
            raise
        finally:
            if self._hooks.hooks:
                self._hooks(InferenceRecord(
                    request, response, error, status_of(error), received_at, 0.0, inference_s,
                    time.perf_counter() - started, batch_size, protocol(), principal()))


async def _hang(timeout_s: float | None) -> None:
    if timeout_s is None:
        await asyncio.Event().wait()
    await asyncio.sleep(timeout_s or 0.0)
    raise DeadlineExceeded("the fake dispatcher hung past the request's deadline")
