"""The app factory and lifecycle of one Ebb server: gateway, workers, HTTP and gRPC.

``EbbServer`` wires the parts together from validated settings; nothing here decodes a request
or runs a model. Start-up: describe the model, start workers, bind ports (falling back to a free
port only when the user did not choose one), serve. Shutdown: refuse new work, let accepted
requests finish, stop workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import uvicorn

from ebb import __version__
from ebb.anomaly import ModelWatch
from ebb.autoscale.actuators.local import LocalActuator
from ebb.autoscale.controller import Controller
from ebb.autoscale.policies import make_policy
from ebb.autoscale.policies.limits import Limits, with_limits
from ebb.autoscale.sources.counters import GatewayCounters
from ebb.autoscale.sources.inprocess import InProcessSource
from ebb.config import DEFAULT_GRPC_PORT, DEFAULT_HTTP_PORT, ServeSettings
from ebb.core.errors import Unavailable
from ebb.dashboard.feed import DashboardFeed, DecisionView, page, static_asset
from ebb.metrics.collectors import ModelSnapshot, ServingCollector, WorkerSample
from ebb.metrics.exposition import new_registry, render
from ebb.metrics.gpu import open_gpu_reader
from ebb.metrics.instruments import AutoscalerMetrics, ServingMetrics
from ebb.metrics.otlp import OtlpExporter
from ebb.protocol.codec import dumps
from ebb.protocol.grpc_server import create_server
from ebb.protocol.openapi import openapi_document
from ebb.protocol.rest import RestApp, Scope, ServerInfo
from ebb.runtime.base import ModelSource
from ebb.serving.batching import BatchPolicy
from ebb.serving.dispatcher import Dispatcher, ServedModel
from ebb.serving.workers import worker_context

log = logging.getLogger("ebb.server")

WORKER_READY_TIMEOUT_S = 300.0
SHUTDOWN_GRACE_S = 10.0


@dataclass(frozen=True)
class BoundPorts:
    http: int
    grpc: int
    notes: tuple[str, ...]
    """Messages about ports that were taken and replaced."""


class _QuietUvicorn(uvicorn.Server):
    """Uvicorn without its own signal handling: EbbServer owns the process lifecycle."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class EbbServer:
    def __init__(self, settings: ServeSettings, sources: Iterable[ModelSource]) -> None:
        self.settings = settings
        self.registry = new_registry()
        self.metrics = ServingMetrics(self.registry)
        self.autoscaler_metrics = AutoscalerMetrics(self.registry)
        self._stop_autoscaling = asyncio.Event()
        self.info = ServerInfo("ebb", __version__)
        self._context = worker_context()
        models = {}
        for source in sources:
            served = self._serve_model(source)
            models[served.name] = served
        self.dispatcher = Dispatcher(models)
        gpu, gpu_note = open_gpu_reader()
        log.log(logging.INFO if gpu else logging.DEBUG, "GPU metrics: %s", gpu_note)
        self.registry.register(ServingCollector(self.snapshot, gpu))
        self._started_at = time.monotonic()
        self.feeds = {name: DashboardFeed(name, self._started_at) for name in models}
        self.watches = {name: ModelWatch() for name in models}
        self.controllers = self._build_controllers()
        pages = {"/metrics": self._metrics_page, "/openapi.json": self._openapi_page,
                 "/dashboard": self._dashboard_page, "/dashboard/data": self._dashboard_data,
                 "/dashboard/static/dashboard.js": self._dashboard_asset,
                 "/dashboard/static/dashboard.css": self._dashboard_asset}
        self.rest = RestApp(self.dispatcher, self.info, self,
                            int(settings.max_body_mb * 1024 * 1024), pages)
        self._openapi = openapi_document(self.info)
        self._uvicorn: _QuietUvicorn | None = None
        self._grpc: Any = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.ports: BoundPorts | None = None

    def _serve_model(self, source: ModelSource) -> ServedModel:
        settings = self.settings
        metadata = source.describe()
        batch_limit = min(settings.max_batch_size, metadata.max_batch_size) or 1
        policy = BatchPolicy(batch_limit, settings.max_batch_delay_ms / 1000)
        return ServedModel.create(
            source, metadata, policy, settings.max_queue_size,
            default_timeout_s=settings.request_timeout_ms / 1000 or None,
            scale_from_zero=settings.autoscaling and (settings.min_workers or 0) == 0,
            observer=self, context=self._context)

    def snapshot(self) -> list[ModelSnapshot]:
        snapshots = []
        for served in self.dispatcher.models.values():
            counts = served.pool.counts()
            snapshots.append(ModelSnapshot(
                model=served.name, queue_depth=served.queue.depth,
                queue_capacity=served.queue.max_size, inflight=served.pool.inflight,
                starting=counts.starting, ready=counts.ready, draining=counts.draining,
                admissions=served.stats.arrivals, rejections=served.queue.rejected,
                expirations=served.queue.expired,
                worker_restarts=served.stats.worker_restarts,
                workers=tuple(WorkerSample(w.id, w.pid) for w in served.pool.workers
                              if w.pid is not None),
                anomalies=tuple((signal, score, active) for signal, (score, active)
                                in self.watches[served.name].latest.items()),
            ))
        return snapshots

    def request_done(self, model: str, protocol: str, code: int, seconds: float) -> None:
        """The protocol adapters' recorder: metrics plus the dashboard's latency reservoir."""
        self.metrics.request_done(model, protocol, code, seconds)
        self.feeds[model].reservoir.add(seconds, code)

    def batch_done(self, model: str, requests: int, rows: int, seconds: float,
                   queue_waits: list[float]) -> None:
        """Serving's observer: metrics, plus the queue waits the anomaly monitor reads."""
        self.metrics.batch_done(model, requests, rows, seconds, queue_waits)
        self.feeds[model].reservoir.add_waits(queue_waits)

    def worker_started(self, model: str, seconds: float) -> None:
        self.metrics.worker_started(model, seconds)

    def worker_restarted(self, model: str) -> None:
        self.metrics.worker_restarted(model)

    def batch_sample(self, model: str, inputs: Mapping[str, np.ndarray],
                     outputs: Mapping[str, np.ndarray]) -> None:
        self.watches[model].observe_batch(inputs, outputs)

    async def _sample_dashboard(self) -> None:
        """Once a second: the dashboard's timeline and the anomaly monitors."""
        while not self._stop_autoscaling.is_set():
            now = time.monotonic()
            for name, feed in self.feeds.items():
                served = self.dispatcher.models[name]
                controller = self.controllers.get(name)
                desired = controller.last.desired if controller and controller.last \
                    else served.pool.counts().active
                snapshot = feed.tick(now, self.counters(name), served.queue.rejected, desired)
                if snapshot is not None:
                    feed.add_anomaly(now, self.watches[name].tick(now, snapshot))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_autoscaling.wait(), 1.0)

    async def _push_otlp(self, exporter: OtlpExporter) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self._stop_autoscaling.is_set():
                await loop.run_in_executor(None, exporter.push)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop_autoscaling.wait(),
                                           self.settings.otlp_interval_s)
        finally:
            exporter.close()

    async def _dashboard_page(self, scope: Scope) -> tuple[int, bytes, bytes]:
        return 200, b"text/html; charset=utf-8", page()

    async def _dashboard_asset(self, scope: Scope) -> tuple[int, bytes, bytes]:
        asset = static_asset(scope["path"].rsplit("/", 1)[-1])
        if asset is None:
            return 404, b"application/json", b'{"error": "no such asset"}'
        return 200, asset[1], asset[0]

    async def _dashboard_data(self, scope: Scope) -> tuple[int, bytes, bytes]:
        query = scope.get("query_string", b"").decode()
        wanted = query.removeprefix("model=") if query.startswith("model=") else ""
        name = wanted if wanted in self.feeds else next(iter(self.feeds))
        controller = self.controllers.get(name)
        decisions = [DecisionView(r.at, r.policy, r.current, r.desired, r.reason)
                     for r in (controller.history if controller else ())]
        policy = self.settings.policy if controller else None
        data = self.feeds[name].data(policy, self.settings.slo_ms, decisions)
        return 200, b"application/json", dumps(data)

    def counters(self, model: str) -> GatewayCounters:
        """The in-process signal of one model: exact, and as fresh as the call."""
        served = self.dispatcher.models[model]
        counts = served.pool.counts()
        stats = served.stats
        return GatewayCounters(
            queue_depth=served.queue.depth, inflight=served.pool.inflight,
            starting=counts.starting, ready=counts.ready, arrivals=stats.arrivals,
            completions=stats.batch_requests, batches=stats.batches,
            batch_seconds=stats.batch_seconds)

    def _build_controllers(self) -> dict[str, Controller]:
        """One controller per model; a bad policy or knob fails here, before any worker starts."""
        settings = self.settings
        if not settings.autoscaling:
            return {}
        low = settings.min_workers or 0
        high = settings.max_workers if settings.max_workers is not None else low
        controllers = {}
        for name, served in self.dispatcher.models.items():
            knobs: dict[str, object] = {"scale_in_delay_s": settings.scale_in_delay_s} \
                if settings.policy == "ebb" else {}
            knobs.update(settings.policy_options)
            policy = with_limits(make_policy(settings.policy, **knobs),
                                 Limits(min_workers=low, max_workers=high))
            source = InProcessSource(functools.partial(self.counters, name),
                                     settings.slo_ms / 1000)
            controllers[name] = Controller(
                name, policy, source, LocalActuator(served.pool.scale_to),
                settings.autoscale_interval_s, self.autoscaler_metrics, time.monotonic)
            self.autoscaler_metrics.configured(name, settings.policy, low, high,
                                               settings.autoscale_interval_s)
        return controllers

    async def _metrics_page(self, scope: Scope) -> tuple[int, bytes, bytes]:
        accept = ""
        for key, value in scope["headers"]:
            if key == b"accept":
                accept = value.decode("latin-1")
        body, content_type = render(self.registry, accept)
        return 200, content_type.encode(), body

    async def _openapi_page(self, scope: Scope) -> tuple[int, bytes, bytes]:
        return 200, b"application/json", self._openapi

    async def start(self) -> BoundPorts:
        """Start workers, wait for the first ones, then open the ports."""
        initial = self.settings.initial_workers
        for served in self.dispatcher.models.values():
            served.pool.add(initial)
        for served in self.dispatcher.models.values():
            await served.pool.wait_ready(min(initial, 1), WORKER_READY_TIMEOUT_S)
        http_socket, http_note = bind_port(self.settings.host, self.settings.http_port,
                                           DEFAULT_HTTP_PORT, "HTTP")
        config = uvicorn.Config(self.rest, http="httptools", lifespan="off",
                                log_level="warning", access_log=False, server_header=False,
                                proxy_headers=False,
                                date_header=False, backlog=4096)
        self._uvicorn = _QuietUvicorn(config)
        self._tasks.append(asyncio.create_task(self._uvicorn.serve(sockets=[http_socket])))
        self._grpc = create_server(self.dispatcher, self.info, self,
                                   int(self.settings.max_body_mb * 1024 * 1024))
        grpc_port, grpc_note = bind_grpc(self._grpc, self.settings.host, self.settings.grpc_port)
        await self._grpc.start()
        while not self._uvicorn.started:
            await asyncio.sleep(0.005)
        for controller in self.controllers.values():
            self._tasks.append(asyncio.create_task(controller.run(self._stop_autoscaling)))
        if self.settings.otlp_endpoint:
            exporter = OtlpExporter(self.registry, self.settings.otlp_endpoint, "ebb")
            self._tasks.append(asyncio.create_task(self._push_otlp(exporter)))
        self._tasks.append(asyncio.create_task(self._sample_dashboard()))
        notes = tuple(note for note in (http_note, grpc_note) if note)
        self.ports = BoundPorts(http_socket.getsockname()[1], grpc_port, notes)
        return self.ports

    async def stop(self) -> None:
        """Refuse new requests, answer the accepted ones, stop the workers."""
        self._stop_autoscaling.set()
        for served in self.dispatcher.models.values():
            served.queue.max_size = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_GRACE_S
        while loop.time() < deadline and any(
            served.queue.depth or served.pool.inflight
            for served in self.dispatcher.models.values()
        ):
            await asyncio.sleep(0.02)
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._grpc is not None:
            await self._grpc.stop(grace=1.0)
        for served in self.dispatcher.models.values():
            served.queue.drain_all(Unavailable("server is shutting down"))
            await served.pool.close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def bind_port(host: str, port: int | None, default: int, label: str) -> tuple[socket.socket, str]:
    """Bind the chosen port, or the default, or a free one when the default is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    note = ""
    try:
        sock.bind((host, default if port is None else port))
    except OSError as error:
        if port is not None:
            sock.close()
            raise OSError(f"cannot bind {label} port {port} on {host}: {error.strerror}") from None
        sock.bind((host, 0))
        note = (f"{label} port {default} is in use; using {sock.getsockname()[1]} instead "
                f"(choose one with --{label.lower()}-port)")
    sock.listen(4096)
    sock.setblocking(False)
    return sock, note


def bind_grpc(server: Any, host: str, port: int | None) -> tuple[int, str]:
    address = f"[{host}]" if ":" in host else host
    wanted = DEFAULT_GRPC_PORT if port is None else port
    try:
        bound = int(server.add_insecure_port(f"{address}:{wanted}"))
    except RuntimeError:
        bound = 0
    if bound:
        return bound, ""
    if port is not None:
        raise OSError(f"cannot bind gRPC port {port} on {host}")
    bound = int(server.add_insecure_port(f"{address}:0"))
    return bound, (f"gRPC port {DEFAULT_GRPC_PORT} is in use; using {bound} instead "
                   "(choose one with --grpc-port)")
