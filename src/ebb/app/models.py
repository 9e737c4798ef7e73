"""The served models: one ``ServedModel`` per model version, built from settings and a plan,
listed in the gateway's tables (metrics, dashboard, drift) and started or stopped while the
server runs (``GatewayHost``, the ``ebb.repository.manager.Host`` of the app)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

from ebb.anomaly import ModelWatch
from ebb.app.background import Background
from ebb.app.observers import Observer
from ebb.config import ServeSettings
from ebb.core.clock import Clock
from ebb.core.dispatch import InferenceHook
from ebb.core.types import ModelMetadata
from ebb.dashboard.feed import DashboardFeed
from ebb.protocol.info import ServerInfo
from ebb.repository.dispatcher import OnDemand, RepositoryDispatcher
from ebb.repository.idle import unload_idle
from ebb.repository.layout import ModelPlan, Scan
from ebb.repository.manager import ModelRepository
from ebb.runtime.base import ModelSource
from ebb.serving.batching import BatchPolicy
from ebb.serving.dispatcher import ServedModel
from ebb.serving.stats import NullObserver
from ebb.serving.warmup import warm_up
from ebb.serving.workers import WorkerPool

WORKER_READY_TIMEOUT_S = 300.0
WARM_UP_WAIT_S = 30.0
WORKER_STOP_S = 1.0


def serve_model(settings: ServeSettings, source: ModelSource, metadata: ModelMetadata,
                observer: Observer, context: Any) -> ServedModel:
    """One model's queue, batching rule and (not yet started) worker pool."""
    batch_limit = min(settings.max_batch_size, metadata.max_batch_size) or 1
    policy = BatchPolicy(batch_limit, settings.max_batch_delay_ms / 1000)
    return ServedModel.create(
        source, metadata, policy, settings.max_queue_size,
        default_timeout_s=settings.request_timeout_ms / 1000 or None,
        scale_from_zero=settings.autoscaling and (settings.min_workers or 0) == 0,
        observer=observer, context=context, max_batch_runtime_s=settings.max_batch_runtime_s,
        # Starting with no worker (scale from zero), the first request pays the cold start
        # anyway: a warm-up at start-up would only start a worker nobody asked for.
        warmed=settings.initial_workers == 0)


def model_settings(settings: ServeSettings, plan: ModelPlan) -> ServeSettings:
    """The server's settings with the model's ``config.toml`` overrides applied."""
    if not plan.config.serving:
        return settings
    return settings.model_copy(update=plan.config.serving)


class GatewayHost:
    """Builds served versions and keeps the gateway's tables (by served key) in step."""

    def __init__(self, settings: ServeSettings, context: Any, clock: Clock,
                 background: Background) -> None:
        self.settings = settings
        self.models: dict[str, ServedModel] = {}
        self.feeds: dict[str, DashboardFeed] = {}
        self.watches: dict[str, ModelWatch] = {}
        self.observer: Observer = NullObserver()
        """Set by the app once its observers (which read ``feeds`` and ``watches``) exist."""
        self._context = context
        self._clock = clock
        self.background = background
        self.on_attach: Callable[[str, WorkerPool], None] = lambda key, pool: None
        """Called for versions loaded while serving (the autoscaler's ``Scaling.add``)."""
        self.on_detach: Callable[[str], None] = lambda key: None

    def build(self, plan: ModelPlan, key: str, metadata: ModelMetadata) -> ServedModel:
        version = metadata.version
        served = serve_model(model_settings(self.settings, plan), plan.versions[version],
                             metadata, self.observer, self._context)
        served.pool.model = key  # metrics, dashboard and logs name the served version
        return served

    def attach(self, key: str, served: ServedModel) -> None:
        self.feeds[key] = DashboardFeed(key, self._clock.now())
        self.watches[key] = ModelWatch()
        self.models[key] = served
        self.on_attach(key, served.pool)

    def detach(self, key: str) -> None:
        self.on_detach(key)
        self.models.pop(key, None)
        self.feeds.pop(key, None)
        self.watches.pop(key, None)

    async def start(self, plan: ModelPlan, served: ServedModel) -> None:
        """Start the version's first workers, wait for one, then for its warm-up."""
        initial = model_settings(self.settings, plan).initial_workers
        served.pool.add(initial)
        await served.pool.wait_ready(min(initial, 1), WORKER_READY_TIMEOUT_S)
        if not served.warmed:
            timeout_s = self.settings.request_timeout_ms / 1000 or None
            task = self.background.spawn(warm_up(served, timeout_s, self.background.stopping),
                                          f"warm-up {served.pool.model}")
            await asyncio.wait([task], timeout=WARM_UP_WAIT_S)

    async def stop(self, served: ServedModel) -> None:
        await served.pool.close(WORKER_STOP_S)


REPOSITORY_EXTENSIONS = ("model_repository", "statistics", "model_configuration")


def with_repository_extensions(info: ServerInfo) -> ServerInfo:
    """Server metadata that lists the repository, statistics and configuration extensions."""
    return dataclasses.replace(info, extensions=(*info.extensions, *REPOSITORY_EXTENSIONS))


def build_repository(settings: ServeSettings, catalog: Callable[[], Scan], host: GatewayHost,
                     hooks: tuple[InferenceHook, ...]) -> ModelRepository:
    """The repository with every model of the catalog prepared (workers not yet started)."""
    dispatcher = RepositoryDispatcher(host.models)
    repository = ModelRepository(catalog, host, dispatcher, settings.drain_timeout_s)
    dispatcher.set_hooks((*hooks, repository.stats))
    dispatcher.pipeline_hook = repository.stats
    if settings.load_on_demand:
        dispatcher.on_demand = OnDemand(repository.describe, repository.ensure_loaded)
        return repository
    for plan in sorted(catalog().plans.values(), key=lambda plan: bool(plan.config.steps)):
        repository.prepare(plan)  # models first, then the pipelines made of them
    return repository


async def start_all(repository: ModelRepository, host: GatewayHost) -> None:
    """Server start-up: every prepared version's first workers, then the warm-ups together."""
    for name, plan in repository.plans.items():
        for served in repository.served(name):
            served.pool.add(model_settings(host.settings, plan).initial_workers)
    for name, plan in repository.plans.items():
        wanted = min(model_settings(host.settings, plan).initial_workers, 1)
        for served in repository.served(name):
            await served.pool.wait_ready(wanted, WORKER_READY_TIMEOUT_S)
    idle_s = host.settings.idle_unload_s
    if idle_s is not None:
        stopping = host.background.stopping
        host.background.spawn(unload_idle(repository, idle_s, stopping), "idle unload")
