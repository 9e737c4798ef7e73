"""The controller's seam to the Kubernetes API: the few calls it makes, as a typed Protocol.

``ebb.kubernetes.client.OfficialKubeApi`` implements it with the official (synchronous) client
through ``asyncio.to_thread``; ``ebb.kubernetes.controller.fake.FakeKubeApi`` implements it in
memory for unit tests. Values crossing the seam are small frozen dataclasses, so nothing above
this module sees the client's generated models.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

FIELD_MANAGER = "ebb-controller"
"""``fieldManager`` of every write (server-side bookkeeping of who set ``spec.replicas``)."""


class ApiError(Exception):
    """The API server refused or failed a call; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status


class ConflictError(ApiError):
    """409: the object changed since it was read (stale ``resourceVersion``) or already exists."""

    def __init__(self, message: str) -> None:
        super().__init__(409, message)


@dataclass(frozen=True, slots=True)
class Scale:
    """A Deployment's ``autoscaling/v1`` Scale subresource."""

    name: str
    replicas: int
    """``spec.replicas``: what was asked for."""
    status_replicas: int
    selector: str
    """``status.selector``: the label selector of the workload's pods."""
    resource_version: str


@dataclass(frozen=True, slots=True)
class ReplicasWriter:
    """A field manager that owns a Deployment's ``spec.replicas`` (from ``managedFields``)."""

    manager: str
    operation: str
    """``Update`` or ``Apply``."""
    at: float
    """Wall-clock seconds (epoch) of that manager's last write; 0 when not recorded."""
    subresource: str = ""
    """``scale`` when written through ``/scale`` (``kubectl scale``, an HPA)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint of an EndpointSlice (one pod), with its conditions."""

    address: str
    port: int | None
    """The slice's port named ``http``, else ``https``, else the first."""
    ready: bool
    serving: bool
    terminating: bool
    uid: str
    """``targetRef.uid`` (the address when the endpoint names no pod)."""
    pod: str | None
    """``targetRef.name`` when the target is a Pod."""
    scheme: str = "http"
    """``https`` when the scraped port is named so (``ebb k8s render --tls-secret``)."""


@dataclass(frozen=True, slots=True)
class SliceList:
    slices: Mapping[str, tuple[Endpoint, ...]]
    """Endpoints by EndpointSlice name."""
    resource_version: str


@dataclass(frozen=True, slots=True)
class SliceEvent:
    kind: Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]
    name: str
    endpoints: tuple[Endpoint, ...]
    resource_version: str


@dataclass(frozen=True, slots=True)
class Lease:
    """A ``coordination.k8s.io/v1`` Lease's spec; times are wall-clock seconds (epoch)."""

    holder: str
    duration_s: int
    acquire_time: float
    renew_time: float
    transitions: int
    resource_version: str = ""


@dataclass(frozen=True, slots=True)
class HpaTarget:
    """An autoscaling/v2 HPA and the workload its ``scaleTargetRef`` names."""

    hpa: str
    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """What an Event is about (``regarding``)."""

    api_version: str
    kind: str
    name: str
    namespace: str


@dataclass(frozen=True, slots=True)
class EventSpec:
    """An ``events.k8s.io/v1`` Event as the controller posts it."""

    regarding: ObjectRef
    type: Literal["Normal", "Warning"]
    reason: str
    note: str
    action: str
    instance: str
    """``reportingInstance``: this controller replica's identity."""
    at: float = 0.0
    """Wall-clock seconds of ``eventTime``."""
    extra: Mapping[str, str] = field(default_factory=dict)


class KubeApi(Protocol):
    """The calls ``ebb controller`` makes, all namespaced. Errors raise ``ApiError``."""

    async def get_scale(self, namespace: str, deployment: str) -> Scale: ...

    async def replace_scale(self, namespace: str, deployment: str, replicas: int,
                             resource_version: str) -> Scale:
        """PUT ``/scale`` with ``resource_version``; ``ConflictError`` when it is stale."""
        ...

    async def replicas_writers(self, namespace: str, deployment: str
                               ) -> list[ReplicasWriter]:
        """The field managers that own the Deployment's ``spec.replicas``."""
        ...

    async def list_endpoint_slices(self, namespace: str, service: str) -> SliceList: ...

    def watch_endpoint_slices(self, namespace: str, service: str, resource_version: str,
                              timeout_s: int) -> Iterator[SliceEvent]:
        """A blocking stream of changes after ``resource_version``; it ends after
        ``timeout_s``; ``ApiError(410)`` when that version is gone. Consume it on a thread."""
        ...

    async def get_lease(self, namespace: str, name: str) -> Lease | None: ...

    async def create_lease(self, namespace: str, name: str, lease: Lease) -> Lease: ...

    async def replace_lease(self, namespace: str, name: str, lease: Lease) -> Lease:
        """``ConflictError`` when ``lease.resource_version`` is stale."""
        ...

    async def create_event(self, namespace: str, event: EventSpec) -> None: ...

    async def list_hpa_targets(self, namespace: str) -> list[HpaTarget]: ...

    async def get_inference_service_annotations(self, namespace: str, name: str
                                                ) -> Mapping[str, str] | None:
        """The InferenceService's annotations; None when it does not exist."""
        ...

    async def annotate_pod(self, namespace: str, pod: str,
                           annotations: Mapping[str, str | None]) -> None:
        """Merge-patch annotations (None removes one)."""
        ...
