"""``ModelRepository``: which models are loaded, and loading and unloading them while serving.

It reads plans from a catalog (the repository directory, read again on every index and load,
as Triton does), builds one ``ServedModel`` per served version through a ``Host`` (the app's
tables: metrics, dashboard, autoscaling), and routes requests through the
``RepositoryDispatcher``. Unloading stops routing first, then waits for queued and running
requests to be answered (up to ``drain_timeout_s``; the rest get 503), then stops the workers.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Protocol

from ebb.core.errors import EbbError, ModelNotFound, Unavailable
from ebb.core.repository import (
    LOADING,
    READY,
    UNAVAILABLE,
    UNLOADING,
    BatchStatistics,
    IndexEntry,
    ModelConfiguration,
    VersionStatistics,
)
from ebb.core.types import ModelMetadata
from ebb.repository.config import RepositoryError, check_declared
from ebb.repository.dispatcher import RepositoryDispatcher, served_key
from ebb.repository.layout import ModelPlan, Scan
from ebb.repository.pipeline import link
from ebb.repository.statistics import StatisticsBook, batch_statistics
from ebb.serving.dispatcher import ServedModel

log = logging.getLogger("ebb.repository")

DRAIN_POLL_S = 0.02
CATALOG_TTL_S = 2.0
PIPELINE_VERSION = "1"


class Host(Protocol):
    """The gateway side of a served version: building it, listing it, starting its workers."""

    def build(self, plan: ModelPlan, key: str, metadata: ModelMetadata) -> ServedModel: ...

    def attach(self, key: str, served: ServedModel) -> None: ...

    def detach(self, key: str) -> None: ...

    async def start(self, plan: ModelPlan, served: ServedModel) -> None: ...

    async def stop(self, served: ServedModel) -> None: ...


class ModelRepository:
    """Implements ``ebb.core.repository.Repository`` over a catalog of plans."""

    def __init__(self, catalog: Callable[[], Scan], host: Host,
                 dispatcher: RepositoryDispatcher, drain_timeout_s: float) -> None:
        self._catalog = catalog
        self._host = host
        self.dispatcher = dispatcher
        self.drain_timeout_s = drain_timeout_s
        self.stats = StatisticsBook(dispatcher.latest_version, self._executions,
                                    self._batches)
        self.plans: dict[str, ModelPlan] = {}
        """The loaded models' plans."""
        self._keys: dict[str, dict[str, str]] = {}
        """Loaded model -> version -> served key."""
        self._states: dict[str, tuple[str, str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.loaded_at_ms: dict[str, int] = {}
        self._recent = Scan({}, {})
        self._described: dict[str, ModelMetadata | None] = {}
        self._described_at = -math.inf

    def prepare(self, plan: ModelPlan) -> None:
        """Build and route a model's versions, workers not started (server start-up)."""
        if plan.config.steps:
            self._prepare_pipeline(plan)
            return
        versions = plan.served_versions()
        built: dict[str, ServedModel] = {}
        keys: dict[str, str] = {}
        for version in versions:
            source = plan.versions[version]
            described = source.describe()
            check_declared(plan.config.inputs, described.inputs, "input", plan.name)
            check_declared(plan.config.outputs, described.outputs, "output", plan.name)
            metadata = ModelMetadata(plan.name, described.inputs, described.outputs, (version,),
                                     described.platform, described.max_batch_size)
            key = served_key(plan.name, version, len(versions) > 1)
            built[version] = self._host.build(plan, key, metadata)
            keys[version] = key
        for version, served in built.items():
            self._host.attach(keys[version], served)
            self.stats.start(plan.name, version)
        self.plans[plan.name] = plan
        self._keys[plan.name] = keys
        self.dispatcher.publish(plan.name, built)
        self._states[plan.name] = (READY, "")
        self.loaded_at_ms[plan.name] = int(time.time() * 1000)

    def _prepare_pipeline(self, plan: ModelPlan) -> None:
        for step in plan.config.steps:
            if step == plan.name or step not in self.plans or self.plans[step].config.steps:
                raise RepositoryError(f"pipeline {plan.name}: step {step} is not a loaded model "
                                      "of the repository (steps are models, not pipelines)")
        metadata = [self.dispatcher.metadata(step) for step in plan.config.steps]
        self.dispatcher.publish_pipeline(link(plan.name, metadata))
        self.plans[plan.name] = plan
        self._keys[plan.name] = {}
        self.stats.start(plan.name, PIPELINE_VERSION)
        self._states[plan.name] = (READY, "")
        self.loaded_at_ms[plan.name] = int(time.time() * 1000)

    def _versions_of(self, name: str) -> list[str]:
        plan = self.plans.get(name)
        if plan is not None and plan.config.steps:
            return [PIPELINE_VERSION]
        return list(self._keys.get(name, {}))

    def served(self, name: str) -> list[ServedModel]:
        return [self.dispatcher.models[key] for key in self._keys.get(name, {}).values()]

    def _executions(self, name: str, version: str) -> int:
        key = self._keys.get(name, {}).get(version)
        return self.dispatcher.models[key].stats.batches if key is not None else 0

    def _batches(self, name: str, version: str) -> tuple[BatchStatistics, ...]:
        key = self._keys.get(name, {}).get(version)
        if key is None:
            return ()
        return batch_statistics(self.dispatcher.models[key].stats.by_batch_size)

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def load(self, name: str) -> None:
        """Load ``name`` from the catalog, or reload it (unload, then load) when loaded."""
        async with self._lock(name):
            await self._load(name)

    async def ensure_loaded(self, name: str) -> None:
        """Load ``name`` unless it is loaded (load on demand: many requests, one load)."""
        if name in self.plans:
            return
        async with self._lock(name):
            if name not in self.plans:
                await self._load(name)

    def describe(self, name: str) -> ModelMetadata | None:
        """What a model of the catalog says of itself, loaded or not; None: not in it. The
        catalog is read at most every ``CATALOG_TTL_S`` for this (requests for made-up names
        must not read the disk each)."""
        now = time.monotonic()
        if now - self._described_at > CATALOG_TTL_S:
            self._described = {}
            self._recent = self._catalog()
            self._described_at = now
        if name not in self._described:
            plan = self._recent.plans.get(name)
            self._described[name] = None if plan is None else self._describe_plan(plan)
        return self._described[name]

    def _describe_plan(self, plan: ModelPlan) -> ModelMetadata | None:
        if not plan.config.steps:
            return _described(plan)
        steps = [self.describe(step) if step != plan.name else None
                 for step in plan.config.steps]
        if any(step is None for step in steps):
            return None
        try:
            return link(plan.name, [step for step in steps if step is not None]).metadata
        except RepositoryError:
            return None

    def idle_models(self, idle_s: float, now_ms: int) -> list[str]:
        """Loaded models with nothing queued or running and no request for ``idle_s``."""
        idle = []
        for name in self.plans:
            served = self.served(name)
            last = max([self.loaded_at_ms.get(name, 0)] + [
                self.stats.report(name, v).last_inference_ms for v in self._versions_of(name)])
            if now_ms - last >= idle_s * 1000 and not any(
                    m.queue.depth or m.pool.inflight for m in served):
                idle.append(name)
        return idle

    async def _load(self, name: str) -> None:
        if self.dispatcher.draining:
            raise Unavailable("the server is shutting down; no model loads now", 1.0)
        scan = self._catalog()
        plan = scan.plans.get(name)
        if plan is None:
            if name in scan.problems:
                raise RepositoryError(f"model {name} cannot be loaded: {scan.problems[name]}")
            raise ModelNotFound(f"model {name!r} is not in the model repository; models: "
                                f"{', '.join(sorted(scan.plans)) or 'none'}")
        for step in plan.config.steps:
            step_plan = scan.plans.get(step)
            if step == name or step_plan is None or step_plan.config.steps:
                raise RepositoryError(f"pipeline {name}: step {step} is not a model of the "
                                      "repository (steps are models, not pipelines)")
            await self.ensure_loaded(step)
        if name in self.plans:
            await self._unload(name)
        self._states[name] = (LOADING, "")
        try:
            await self._start(plan)
        except EbbError as error:
            self._states[name] = (UNAVAILABLE, error.message)
            raise RepositoryError(f"model {name} failed to load: {error.message}") from None
        except (OSError, RuntimeError, TimeoutError, ValueError) as error:
            self._states[name] = (UNAVAILABLE, str(error))
            raise RepositoryError(f"model {name} failed to load: {error}") from None
        log.info("model %s loaded: versions %s", name, ", ".join(self._keys[name]))

    async def _start(self, plan: ModelPlan) -> None:
        self.prepare(plan)
        try:
            for served in self.served(plan.name):
                await self._host.start(plan, served)
        except BaseException:
            await self._unload(plan.name)
            raise

    async def unload(self, name: str) -> None:
        async with self._lock(name):
            if name not in self.plans:
                raise ModelNotFound(f"model {name!r} is not loaded; loaded: "
                                    f"{', '.join(sorted(self.plans)) or 'none'}")
            await self._unload(name)
            log.info("model %s unloaded", name)

    async def _unload(self, name: str) -> None:
        """Stop routing, answer what was admitted (or 503 past the drain timeout), stop."""
        self._states[name] = (UNLOADING, "")
        self.dispatcher.withdraw(name)
        served = self.served(name)
        for model in served:
            model.queue.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain_timeout_s
        while any(m.queue.depth or m.pool.inflight for m in served) and loop.time() < deadline:
            await asyncio.sleep(DRAIN_POLL_S)
        error = Unavailable(f"model {name} was unloaded before the request was answered", 1.0)
        for model in served:
            model.queue.drain_all(error)
            model.pool.fail_running(error)
        await asyncio.gather(*(self._host.stop(model) for model in served))
        for key in self._keys.pop(name, {}).values():
            self._host.detach(key)
        self.plans.pop(name, None)
        self.stats.forget(name)
        self._states[name] = (UNAVAILABLE, "unloaded")

    def index(self, ready_only: bool) -> list[IndexEntry]:
        """Loaded versions, then every other model of the catalog (not loaded: no version)."""
        entries: list[IndexEntry] = []
        for name in sorted(self._keys):
            state, reason = self._states.get(name, (READY, ""))
            entries.extend(IndexEntry(name, version, state, reason)
                           for version in self._versions_of(name))
        if ready_only:
            return [entry for entry in entries if entry.state == READY]
        scan = self._catalog()
        for name in sorted({*scan.plans, *scan.problems, *self._states} - set(self._keys)):
            state, reason = self._states.get(name, (UNAVAILABLE, ""))
            entries.append(IndexEntry(name, "", state, scan.problems.get(name, reason)))
        return entries

    def statistics(self, name: str, version: str) -> list[VersionStatistics]:
        if not name:
            return [self.stats.report(model, v)
                    for model in sorted(self._keys) for v in self._versions_of(model)]
        self.dispatcher.metadata(name, version)  # the 404 for a name or version not served
        versions = [version] if version else self._versions_of(name)
        return [self.stats.report(name, v) for v in versions]

    def config(self, name: str, version: str) -> ModelConfiguration:
        plan = self.plans.get(name)
        if plan is not None and plan.config.steps:
            metadata = self.dispatcher.metadata(name, version)
            return ModelConfiguration(name, metadata.platform, metadata.max_batch_size,
                                      metadata.inputs, metadata.outputs,
                                      ("latest", ("1",)), 0, 0)
        served = self.dispatcher.model(name, version)
        plan = self.plans[name]
        metadata = served.metadata
        batch_limit = served.queue.policy.max_batch_size if metadata.max_batch_size else 0
        return ModelConfiguration(
            name=name, platform=metadata.platform, max_batch_size=batch_limit,
            inputs=metadata.inputs, outputs=metadata.outputs,
            version_policy=plan.config.policy.describe(),
            max_queue_delay_us=int(served.queue.policy.max_delay_s * 1_000_000),
            instance_count=served.pool.counts().active)


def _described(plan: ModelPlan) -> ModelMetadata | None:
    versions = plan.served_versions()
    if not versions:
        return None
    metadata = plan.versions[versions[-1]].describe()
    return ModelMetadata(plan.name, metadata.inputs, metadata.outputs, tuple(versions),
                         metadata.platform, metadata.max_batch_size)
