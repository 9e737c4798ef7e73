"""``ebb controller`` assembled: the same ``Controller`` as ``ebb serve``, with a source that
scrapes pods, an actuator that writes ``/scale``, a Lease, Events, metrics and, optionally, the
KEDA external scaler. ``run`` lasts until ``stopping`` is set, then releases the Lease."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from ebb.autoscale.controller import Controller
from ebb.autoscale.policies import Limits, build_policy
from ebb.core.clock import Clock, MonotonicClock
from ebb.kubernetes.controller.actuator import ScaleActuator
from ebb.kubernetes.controller.api import KubeApi, ObjectRef
from ebb.kubernetes.controller.discovery import PodDirectory
from ebb.kubernetes.controller.events import EventRecorder
from ebb.kubernetes.controller.guards import Guards
from ebb.kubernetes.controller.http import ControllerHttp, HealthState
from ebb.kubernetes.controller.keda import start_keda_scaler
from ebb.kubernetes.controller.leader import LeaderElector, LeaseTiming
from ebb.kubernetes.controller.observe import ControllerObserver, DesiredPods
from ebb.kubernetes.controller.settings import ControllerSettings
from ebb.kubernetes.controller.sources import ClusterSource, PodScraper, ScaleView
from ebb.metrics.controller import ControllerMetrics
from ebb.metrics.exposition import new_registry

log = logging.getLogger("ebb.kubernetes.controller")


def regarding(settings: ControllerSettings) -> ObjectRef:
    """What the Events are about: the InferenceService, or the Deployment."""
    target = settings.target
    if target.kind == "inferenceservice":
        return ObjectRef("serving.kserve.io/v1beta1", "InferenceService", target.name,
                         settings.namespace)
    return ObjectRef("apps/v1", "Deployment", target.deployment, settings.namespace)


class ControllerApp:
    def __init__(self, settings: ControllerSettings, api: KubeApi,
                 clock: Clock | None = None) -> None:
        s = self.settings = settings
        self.clock = clock or MonotonicClock()
        self.registry = new_registry()
        self.metrics = ControllerMetrics(self.registry, s.target.deployment)
        self.desired = DesiredPods(s.min_replicas)
        self.directory = PodDirectory(api, s.namespace, s.service)
        self.scraper = PodScraper(s.scrape_timeout_s, tls=s.scrape,
                                  server_name=f"{s.service}.{s.namespace}.svc")
        self.view = ScaleView(api, s.namespace, s.target.deployment)
        self.observer = ControllerObserver(
            self.metrics, self.desired, s.min_replicas, s.max_replicas,
            lambda: self.source.workers_per_pod,
            lambda: sum(reading.work for reading in self.source.pods))
        self.source = ClusterSource(self.directory, self.scraper, self.view, s.slo_ms / 1000,
                                    s.workers_per_pod, self.observer, s.prometheus_url, s.model)
        self.events = EventRecorder(api, s.namespace, regarding(s), s.identity, self.clock)
        self.guards = Guards(api, s.namespace, s.target, self.events, self.observer,
                             back_off_s=s.back_off_s)
        self.elector = LeaderElector(
            api, s.namespace, s.lease_name, s.identity, self.clock,
            LeaseTiming(s.lease_duration_s, s.renew_deadline_s, s.retry_period_s),
            self.observer)
        self.actuator = ScaleActuator(
            api, s.namespace, s.target.deployment, s.min_replicas, s.max_replicas, self.view,
            self.guards, self.events, self.observer, self.elector.is_leader,
            lambda: self.source.workers_per_pod, lambda: self.source.pods,
            reason=self._reason, dry_run=s.dry_run, start_timeout_s=s.pod_start_timeout_s)
        self.health = HealthState(self.clock.now, max(30.0, 20 * s.interval_s))
        self.http = ControllerHttp(self.registry, self.health)
        self.controller = self._controller(self.source.workers_per_pod)

    def _reason(self) -> str:
        last = self.controller.last
        return last.reason if last is not None else ""

    def _controller(self, workers_per_pod: int) -> Controller:
        """A Controller whose policy bounds are the pod bounds in workers."""
        s = self.settings
        limits = Limits(s.min_replicas * workers_per_pod, s.max_replicas * workers_per_pod)
        policy = build_policy(s.policy, s.policy_options, limits,
                              scale_in_delay_s=s.scale_in_delay_s)
        self._workers_per_pod = workers_per_pod
        return Controller(str(s.target), policy, self.source, self.actuator, s.interval_s,
                          self.observer, self.clock)

    async def tick(self) -> None:
        """One step; the policy is rebuilt when the pods report another worker count."""
        if self.source.workers_per_pod != self._workers_per_pod:
            log.info("pods run %d workers each", self.source.workers_per_pod)
            self.controller = self._controller(self.source.workers_per_pod)
        try:
            await self.controller.step()
        except Exception:
            log.exception("tick failed; trying again")
        self.health.ticked()
        self.health.leader = self.elector.is_leader()

    async def _loop(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.settings.interval_s)

    async def run(self, stopping: asyncio.Event,
                  announce: Callable[[str], None] = log.info) -> None:
        s = self.settings
        port = await self.http.start(s.http_host, s.http_port)
        keda = None
        try:
            if s.keda_port is not None:
                keda, keda_port = await start_keda_scaler(self.desired, s.http_host,
                                                          s.keda_port)
                announce(f"  KEDA external scaler  grpc {s.http_host}:{keda_port}")
            await self.directory.start()
            announce(f"ebb controller {s.identity}: {s.target} in {s.namespace} "
                     f"(service {s.service}, {s.min_replicas}-{s.max_replicas} pods, policy "
                     f"{s.policy}{', dry run' if s.dry_run else ''})\n"
                     f"  metrics  http://{s.http_host}:{port}/metrics")
            await asyncio.gather(self.elector.run(stopping), self.guards.run(stopping),
                                 self._loop(stopping))
        finally:
            self.directory.stop()
            await self.http.stop()
            if keda is not None:
                await keda.stop(1)
            await self.scraper.close()
