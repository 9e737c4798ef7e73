"""``EbbServer``: wiring and lifecycle of one gateway, and nothing else.

Built from validated settings and model sources, it composes small parts: one served model per
source (queue, batcher, worker pool), the dispatcher, one observer fan-out (metrics, dashboard,
drift), one state snapshot read by metrics, autoscaler and dashboard, a controller per model,
the REST and gRPC adapters, and background loops under one ``stopping`` event.

Start-up: workers first, then a warm-up inference per model (``ebb.serving.warmup``; readiness
waits for it), then the ports. Shutdown: ``ebb.app.shutdown`` (readiness off at once, a pause
for load balancers, stop accepting, drain, stop the workers).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from ebb import __version__
from ebb.app.access import access_interceptors, access_middleware
from ebb.app.background import Background
from ebb.app.casting import with_casting
from ebb.app.fast_infer import FastInfer
from ebb.app.flat_infer import FlatInfer
from ebb.app.guards import browser_guard, browser_policy, grpc_options, request_budget, wire_limits
from ebb.app.heap import settle_heap
from ebb.app.http import HttpServer
from ebb.app.logs import log_started
from ebb.app.models import GatewayHost, build_repository, start_all, with_repository_extensions
from ebb.app.observers import DashboardRecorder, DriftRecorder, FanOut
from ebb.app.pages import metrics_route, push_otlp, static_route
from ebb.app.ports import BoundPorts, bind_grpc, bind_port
from ebb.app.scaling import build_controllers
from ebb.app.shutdown import Shutdown
from ebb.app.state import GatewayState
from ebb.config import DEFAULT_HTTP_PORT, ServeSettings
from ebb.core.clock import Clock
from ebb.core.types import ModelMetadata
from ebb.dashboard.routes import dashboard_routes, redirect_root
from ebb.dashboard.sampler import DashboardSampler
from ebb.inference_log.wiring import open_inference_log
from ebb.metrics.collectors import ServingCollector
from ebb.metrics.exposition import new_registry
from ebb.metrics.gpu import open_gpu_reader
from ebb.metrics.instruments import AutoscalerMetrics, SecurityMetrics, ServingMetrics
from ebb.metrics.otlp import OtlpExporter
from ebb.protocol.asgi import apply_middleware
from ebb.protocol.grpc_server import create_server
from ebb.protocol.info import ServerInfo
from ebb.protocol.openapi import openapi_document
from ebb.protocol.recording import InferRecording
from ebb.protocol.repository_grpc import RepositoryServicer
from ebb.protocol.repository_routes import RepositoryRoutes
from ebb.protocol.rest import RestApp
from ebb.repository.catalog import Catalog, fixed_catalog
from ebb.runtime.base import ModelSource
from ebb.security.tls import load_server_tls
from ebb.security.wiring import build_security
from ebb.serving.warmup import warm_up
from ebb.serving.workers import worker_context

log = logging.getLogger("ebb.app")

WORKER_READY_TIMEOUT_S = 300.0
WARM_UP_WAIT_S = 30.0
"""Start-up waits this long for the warm-ups; a model still not warm stays unready (retrying)."""


class EbbServer:
    def __init__(self, settings: ServeSettings, sources: Iterable[ModelSource],
                 clock: Clock, catalog: Catalog | None = None) -> None:
        self.settings = settings
        self.tls = load_server_tls(settings.tls_cert_file, settings.tls_key_file,
                                   settings.tls_client_ca_file)
        self.info = with_repository_extensions(ServerInfo("ebb", __version__))
        self.registry = new_registry()
        self.security = build_security(settings, SecurityMetrics(self.registry), clock)
        self._clock = clock
        self.background = Background()
        self.host = GatewayHost(settings, worker_context(), clock, self.background)
        self.models, self.feeds, self.watches = self.host.models, self.host.feeds, self.host.watches
        self.observer = self.host.observer = FanOut((
            ServingMetrics(self.registry), DashboardRecorder(self.feeds),
            DriftRecorder(self.watches)))
        self.inference_log = open_inference_log(settings, self.registry, self.security.gate)
        hooks = (self.inference_log.hook,) if self.inference_log is not None else ()
        self.repository = build_repository(settings, catalog or fixed_catalog(sources),
                                           self.host, hooks)
        self.dispatcher = self.repository.dispatcher
        self.metadata: tuple[ModelMetadata, ...] = tuple(
            self.dispatcher.metadata(name) for name in self.dispatcher.model_names())
        self.state = GatewayState(self.models, self._anomalies)
        gpu, gpu_note = open_gpu_reader()
        log.log(logging.INFO if gpu else logging.DEBUG, "GPU metrics: %s", gpu_note)
        self.registry.register(ServingCollector(self.state.snapshots, gpu))
        pools = {name: served.pool for name, served in self.models.items()}
        self.scaling = build_controllers(settings, pools, self.state.snapshot,
                                         AutoscalerMetrics(self.registry), clock)
        self.host.on_attach, self.host.on_detach = self.scaling.add, self.scaling.remove
        routes = {"/metrics": metrics_route(self.registry),
                  "/openapi.json": static_route(openapi_document(self.info)),
                  **dashboard_routes(self.feeds, self.scaling.decisions,
                                     settings.policy if self.scaling.controllers else None,
                                     settings.slo_ms)}
        self.budget = request_budget(settings)  # request bytes in flight, REST and gRPC
        self.front = with_casting(self.dispatcher, settings.cast_inputs)  # what clients reach
        self.rest = RestApp(self.front, self.info, self.observer, self._max_bytes, routes,
                            self.budget, RepositoryRoutes(self.repository))
        self.shutdown = Shutdown(self.dispatcher, self.models, settings.prestop_seconds,
                                 settings.drain_timeout_s)
        self._http: HttpServer | None = None
        self._grpc: Any = None
        self.ports: BoundPorts | None = None

    @property
    def _max_bytes(self) -> int:
        return int(self.settings.max_body_mb * 1024 * 1024)

    def _anomalies(self, name: str) -> tuple[tuple[str, float, bool], ...]:
        return tuple((signal, score, active)
                     for signal, (score, active) in self.watches[name].latest.items())

    async def start(self) -> BoundPorts:
        """Bind both ports (a clash costs no model load), start workers, wait for the first
        ones and the warm-ups, then serve on the ports and start the loops."""
        settings = self.settings
        began = self._clock.now()
        http_socket, http_note = bind_port(settings.host, settings.http_port,
                                           DEFAULT_HTTP_PORT, "HTTP")
        grpc = create_server(self.front, self.info, self.observer, self._max_bytes,
                             (*access_interceptors(settings.access_log),
                              *self.security.interceptors), self.budget, grpc_options(settings),
                             RepositoryServicer(self.repository))
        try:
            grpc_port, grpc_note = bind_grpc(grpc, settings.host, settings.grpc_port,
                                             self.tls.grpc_credentials() if self.tls else None)
        except OSError:
            http_socket.close()
            raise
        await start_all(self.repository, self.host)
        await self._warm_up()
        self._http = HttpServer(
            apply_middleware(self.rest, [*access_middleware(settings.access_log),
                                         *browser_guard(settings), redirect_root,
                                         *self.security.middleware]),
            self.tls.context if self.tls else None, wire_limits(settings), self._fast_infer())
        await self._http.start(http_socket)
        self._grpc = grpc
        await self._grpc.start()
        self._start_loops()
        settle_heap()
        notes = tuple(note for note in (http_note, grpc_note) if note)
        self.ports = BoundPorts(http_socket.getsockname()[1], grpc_port, notes)
        log_started(self.metadata, self.ports, self._clock.now() - began)
        return self.ports

    def _fast_infer(self) -> FastInfer | None:
        """The fast infer path, unless middleware must see every infer call (API keys, the
        access log) or ``--asgi-infer`` turned it off."""
        settings = self.settings
        if settings.asgi_infer or settings.access_log or self.security.middleware:
            return None
        flat = FlatInfer(self.dispatcher, InferRecording(self.front, self.observer), self.budget)
        return FastInfer(self.rest, browser_policy(settings), flat)

    def _start_loops(self) -> None:
        background, settings = self.background, self.settings
        self.scaling.spawn(background)
        self.security.spawn(background)
        if settings.otlp_endpoint:
            exporter = OtlpExporter(self.registry, settings.otlp_endpoint, "ebb")
            background.spawn(push_otlp(exporter, settings.otlp_interval_s, background.stopping),
                             "otlp")
        sampler = DashboardSampler(self.feeds, self.watches, self.state.snapshot,
                                   self.scaling.desired, self._clock)
        background.spawn(sampler.run(background.stopping), "dashboard")
        if self.inference_log is not None:
            background.spawn(self.inference_log.run(background.stopping), "inference log")
        if self.tls is not None:
            background.spawn(self.tls.watch(background.stopping), "tls-files")

    async def _warm_up(self) -> None:
        timeout_s = self.settings.request_timeout_ms / 1000 or None
        tasks = [self.background.spawn(warm_up(served, timeout_s, self.background.stopping),
                                       f"warm-up {name}")
                 for name, served in self.models.items() if not served.warmed]
        if tasks:
            await asyncio.wait(tasks, timeout=WARM_UP_WAIT_S)

    async def stop(self) -> None:
        """The shutdown sequence (``ebb.app.shutdown``); no pause when start-up never ended."""
        if self.ports is None:
            self.shutdown.prestop_s = 0.0
        await self.shutdown.run(self._stop_http, self._stop_grpc, self.background.stop)
        if self.inference_log is not None:
            await self.inference_log.close()  # after the drain: every answer is in the buffer

    async def _stop_http(self) -> None:
        if self._http is not None:
            self._http.close_idle()  # idle keep-alives close now, busy ones after their answer
            await self._http.stop()

    async def _stop_grpc(self, grace_s: float) -> None:
        if self._grpc is not None:
            await self._grpc.stop(grace=grace_s)

