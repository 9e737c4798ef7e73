"""An in-memory ``KubeApi`` for unit tests: one namespace's objects, resourceVersions that rise,
409 on a stale write, and a queue of faults to inject. It is a fake, not a model of the API
server; the HTTP fake in the test suite is what the official client is tested against."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from ebb.kubernetes.controller.api import (
    FIELD_MANAGER,
    ApiError,
    ConflictError,
    Endpoint,
    EventSpec,
    HpaTarget,
    Lease,
    ReplicasWriter,
    Scale,
    SliceEvent,
    SliceList,
)


@dataclass
class FakeKubeApi:
    replicas: dict[str, int] = field(default_factory=dict)
    slices: dict[str, tuple[Endpoint, ...]] = field(default_factory=dict)
    hpas: list[HpaTarget] = field(default_factory=list)
    isvc_annotations: dict[str, dict[str, str]] = field(default_factory=dict)
    pod_annotations: dict[str, dict[str, str]] = field(default_factory=dict)
    events: list[EventSpec] = field(default_factory=list)
    leases: dict[str, Lease] = field(default_factory=dict)
    faults: dict[str, list[ApiError]] = field(default_factory=dict)
    """By method name: raised, oldest first, by that method's next calls (one each)."""
    writes: list[tuple[str, int]] = field(default_factory=list)
    owners: dict[str, ReplicasWriter] = field(default_factory=dict)
    """Who last wrote each Deployment's ``spec.replicas`` (its ``managedFields`` owner)."""
    version: int = 1
    _versions: dict[str, int] = field(default_factory=dict)
    _watch: queue.Queue[SliceEvent] = field(default_factory=queue.Queue)

    def _fault(self, method: str) -> None:
        pending = self.faults.get(method)
        if pending:
            raise pending.pop(0)

    def _bump(self, key: str) -> str:
        self.version += 1
        self._versions[key] = self.version
        return str(self.version)

    def touch(self, deployment: str, replicas: int, manager: str = "kubectl",
              at: float | None = None) -> None:
        """Another writer changes the replicas (the next PUT with the old version is a 409)
        and so owns them, as ``kubectl scale`` would."""
        self.replicas[deployment] = replicas
        self.owners[deployment] = ReplicasWriter(manager, "Update",
                                                 time.time() if at is None else at, "scale")
        self._bump(f"scale/{deployment}")

    def set_slice(self, name: str, endpoints: tuple[Endpoint, ...]) -> None:
        existed = name in self.slices
        self.slices[name] = endpoints
        self._watch.put(SliceEvent("MODIFIED" if existed else "ADDED", name, endpoints,
                                   self._bump(f"slice/{name}")))

    async def get_scale(self, namespace: str, deployment: str) -> Scale:
        self._fault("get_scale")
        if deployment not in self.replicas:
            raise ApiError(404, f"deployments.apps {deployment!r} not found")
        version = self._versions.setdefault(f"scale/{deployment}", self.version)
        count = self.replicas[deployment]
        return Scale(deployment, count, count, f"app={deployment}", str(version))

    async def replace_scale(self, namespace: str, deployment: str, replicas: int,
                            resource_version: str) -> Scale:
        self._fault("replace_scale")
        current = self._versions.setdefault(f"scale/{deployment}", self.version)
        if resource_version != str(current):
            raise ConflictError("the object has been modified; please apply your changes "
                                "to the latest version and try again")
        self.replicas[deployment] = replicas
        self.owners[deployment] = ReplicasWriter(FIELD_MANAGER, "Update", time.time(), "scale")
        self.writes.append((deployment, replicas))
        version = self._bump(f"scale/{deployment}")
        return Scale(deployment, replicas, replicas, f"app={deployment}", version)

    async def replicas_writers(self, namespace: str, deployment: str
                               ) -> list[ReplicasWriter]:
        self._fault("replicas_writers")
        owner = self.owners.get(deployment)
        return [owner] if owner is not None else []

    async def list_endpoint_slices(self, namespace: str, service: str) -> SliceList:
        self._fault("list_endpoint_slices")
        return SliceList(dict(self.slices), str(self.version))

    def watch_endpoint_slices(self, namespace: str, service: str, resource_version: str,
                              timeout_s: int) -> Iterator[SliceEvent]:
        while True:
            try:
                event = self._watch.get(timeout=timeout_s)
            except queue.Empty:
                return
            if int(event.resource_version) > int(resource_version or 0):
                yield event

    async def get_lease(self, namespace: str, name: str) -> Lease | None:
        self._fault("get_lease")
        return self.leases.get(name)

    async def create_lease(self, namespace: str, name: str, lease: Lease) -> Lease:
        self._fault("create_lease")
        if name in self.leases:
            raise ConflictError(f"leases {name!r} already exists")
        self.leases[name] = replace(lease, resource_version=self._bump(f"lease/{name}"))
        return self.leases[name]

    async def replace_lease(self, namespace: str, name: str, lease: Lease) -> Lease:
        self._fault("replace_lease")
        stored = self.leases.get(name)
        if stored is None:
            raise ApiError(404, f"leases {name!r} not found")
        if stored.resource_version != lease.resource_version:
            raise ConflictError("the object has been modified")
        self.leases[name] = replace(lease, resource_version=self._bump(f"lease/{name}"))
        return self.leases[name]

    async def create_event(self, namespace: str, event: EventSpec) -> None:
        self._fault("create_event")
        self.events.append(event)

    async def list_hpa_targets(self, namespace: str) -> list[HpaTarget]:
        self._fault("list_hpa_targets")
        return list(self.hpas)

    async def get_inference_service_annotations(self, namespace: str, name: str
                                                ) -> Mapping[str, str] | None:
        self._fault("get_inference_service_annotations")
        return self.isvc_annotations.get(name)

    async def annotate_pod(self, namespace: str, pod: str,
                           annotations: Mapping[str, str | None]) -> None:
        self._fault("annotate_pod")
        current = self.pod_annotations.setdefault(pod, {})
        for key, value in annotations.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
