"""``RepositoryDispatcher``: the ``QueueDispatcher`` of a server with several models and versions.

Each served version is its own ``ServedModel`` (queue, batcher, worker pool); this only chooses
which one a request reaches: the version it names, or the latest served one. Models come and go
while it serves (``publish``/``withdraw``, from ``ebb.repository.manager``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from ebb.core.caller import principal, protocol
from ebb.core.dispatch import HookRunner, InferenceHook, InferenceRecord, status_of
from ebb.core.errors import ModelNotFound
from ebb.core.types import InferRequest, InferResponse, ModelMetadata
from ebb.repository.pipeline import Pipeline, run
from ebb.serving.dispatcher import QueueDispatcher, ServedModel


def served_key(name: str, version: str, several: bool) -> str:
    """A served version's key in the gateway's tables, metrics and dashboard: the model's name,
    or ``name/version`` when the model serves several versions (a bounded label set)."""
    return f"{name}/{version}" if several else name


class OnDemand:
    """Loads models on their first request: ``describe`` (None: not in the repository) gives
    their metadata before they load, ``load`` loads them (once, however many ask at once)."""

    def __init__(self, describe: Callable[[str], ModelMetadata | None],
                 load: Callable[[str], Awaitable[None]]) -> None:
        self.describe = describe
        self.load = load


class RepositoryDispatcher(QueueDispatcher):
    def __init__(self, served: dict[str, ServedModel],
                 hooks: Sequence[InferenceHook] = ()) -> None:
        super().__init__({}, hooks)
        self.models = served
        """Every served version by ``served_key``: the gateway's shared table."""
        self._versions: dict[str, dict[str, ServedModel]] = {}
        self._latest: dict[str, ServedModel] = {}
        self._combined: dict[str, ModelMetadata] = {}
        self._pipelines: dict[str, Pipeline] = {}
        self.pipeline_hook: InferenceHook | None = None
        """Told of each pipeline request (its steps' requests go through the hooks)."""
        self.on_demand: OnDemand | None = None
        """With --load-on-demand: loads a model of the repository that is not loaded."""

    def set_hooks(self, hooks: Sequence[InferenceHook]) -> None:
        """Hooks called after every inference (``QueueDispatcher``'s), set once wired."""
        self._hooks = HookRunner(hooks) if hooks else None

    def publish(self, name: str, versions: Mapping[str, ServedModel]) -> None:
        """Route ``name`` to these versions (oldest first) from now on."""
        ordered = dict(sorted(versions.items(), key=lambda item: int(item[0])))
        latest = next(reversed(ordered.values()))
        self._versions[name] = ordered
        self._latest[name] = latest
        self._combined[name] = dataclasses.replace(latest.metadata, versions=tuple(ordered))
        self._names = (*self._versions, *self._pipelines)

    def publish_pipeline(self, pipeline: Pipeline) -> None:
        self._pipelines[pipeline.name] = pipeline
        self._names = (*self._versions, *self._pipelines)

    def withdraw(self, name: str) -> None:
        """New requests for ``name`` answer 404 from now on; admitted ones are still served."""
        self._versions.pop(name, None)
        self._latest.pop(name, None)
        self._combined.pop(name, None)
        self._pipelines.pop(name, None)
        self._names = (*self._versions, *self._pipelines)

    def versions(self, name: str) -> tuple[str, ...]:
        return tuple(self._versions.get(name, ()))

    def latest_version(self, name: str) -> str | None:
        served = self._latest.get(name)
        if served is None:
            return "1" if name in self._pipelines else None
        return served.metadata.version

    def direct(self, name: str, version: str = "") -> ServedModel | None:
        """The served version a request reaches with no pipeline or on-demand load on the way;
        None otherwise."""
        if name in self._pipelines:
            return None
        if not version:
            return self._latest.get(name)
        versions = self._versions.get(name)
        return None if versions is None else versions.get(version)

    def model(self, name: str, version: str = "") -> ServedModel:
        if not version:
            served = self._latest.get(name)
            if served is not None:
                return served
        else:
            versions = self._versions.get(name)
            if versions is not None and version in versions:
                return versions[version]
            if versions is not None:
                raise ModelNotFound(f"model {name!r} has no version {version!r} served; "
                                    f"versions: {', '.join(versions)}")
        raise ModelNotFound(f"model {name!r} is not served here; models: "
                            f"{', '.join(sorted(self._versions)) or 'none'}")

    def metadata(self, name: str, version: str = "") -> ModelMetadata:
        """A version's metadata; without a version, the latest's with every served version
        (or, loading on demand, what the model says of itself before it loads)."""
        pipeline = self._pipelines.get(name)
        if pipeline is not None and version in ("", "1"):
            return pipeline.metadata
        if version:
            return self.model(name, version).metadata
        combined = self._combined.get(name)
        if combined is None and self.on_demand is not None:
            combined = self.on_demand.describe(name)
        if combined is None:
            return self.model(name).metadata  # raises the 404
        return combined

    def ready(self, name: str, version: str = "") -> bool:
        pipeline = self._pipelines.get(name)
        if pipeline is not None:
            return all(step in self._versions and self.ready(step) for step in pipeline.steps)
        if name not in self._versions and self.on_demand is not None \
                and self.on_demand.describe(name) is not None:
            return False  # in the repository, not loaded: loads on its first request
        return super().ready(name, version)

    async def infer(self, request: InferRequest) -> InferResponse:
        pipeline = self._pipelines.get(request.model_name)
        if pipeline is not None and request.model_version in ("", "1"):
            return await self._run_pipeline(pipeline, request)
        if request.model_name not in self._versions and self.on_demand is not None \
                and self.on_demand.describe(request.model_name) is not None:
            await self.on_demand.load(request.model_name)
        return await super().infer(request)

    async def _run_pipeline(self, pipeline: Pipeline, request: InferRequest) -> InferResponse:
        received_at, started = time.time(), time.perf_counter()
        response: InferResponse | None = None
        error: BaseException | None = None
        try:
            response = await run(pipeline, request, super().infer)
            return response
        except BaseException as caught:
            error = caught
            raise
        finally:
            if self.pipeline_hook is not None:
                self.pipeline_hook(InferenceRecord(
                    request, response, error, status_of(error), received_at, 0.0, 0.0,
                    time.perf_counter() - started, 0, protocol(), principal()))
