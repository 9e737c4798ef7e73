"""The one module that imports the official ``kubernetes`` client (an import-linter contract).

The client is synchronous, so each call runs on a worker thread (``asyncio.to_thread``) behind
the async ``KubeApi`` seam; every call carries a request timeout, so a slow API server delays a
tick but never hangs the controller. Configuration: in-cluster when running in a pod (and no
kubeconfig was named), else ``--kubeconfig``, then ``$KUBECONFIG``, then ``~/.kube/config``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

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

_TIMEOUT_S = 5.0
SERVICE_LABEL = "kubernetes.io/service-name"


def load_api_client(kubeconfig: str | None) -> client.ApiClient:
    """An ``ApiClient`` from the in-cluster service account or a kubeconfig file."""
    configuration = client.Configuration()
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration)
    else:
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, client_configuration=configuration)
        except (config.ConfigException, OSError) as error:
            raise ApiError(0, f"cannot load a kubeconfig: {error}") from None
    return client.ApiClient(configuration)


def _error(error: ApiException) -> ApiError:
    status = int(error.status or 0)
    message = str(error.reason or "")
    with contextlib.suppress(ValueError, AttributeError):
        message = json.loads(error.body or "{}").get("message", message)
    return ConflictError(message) if status == 409 else ApiError(status, message)


def _call(function: Callable[..., object], *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, _request_timeout=_TIMEOUT_S, **kwargs)
    except ApiException as error:
        raise _error(error) from None
    except OSError as error:
        raise ApiError(0, f"API server unreachable: {error}") from None
    except Exception as error:  # urllib3's errors are not OSErrors
        if type(error).__module__.startswith("urllib3"):
            raise ApiError(0, f"API server unreachable: {error}") from None
        raise


def endpoints_of(raw: Mapping[str, Any]) -> tuple[Endpoint, ...]:
    """One EndpointSlice (as JSON) as endpoints, each on the slice's ``http`` port (``https``
    with TLS; else the first)."""
    ports = raw.get("ports") or []
    named = {p.get("name"): p.get("port") for p in ports}
    scheme = "https" if "http" not in named and "https" in named else "http"
    port = named.get(scheme) or (ports[0].get("port") if ports else None)
    found = []
    for item in raw.get("endpoints") or []:
        conditions = item.get("conditions") or {}
        ready = conditions.get("ready") is not False  # unknown (nil) means ready
        target = item.get("targetRef") or {}
        for address in item.get("addresses") or []:
            found.append(Endpoint(
                address=address, port=port, ready=ready,
                serving=conditions.get("serving", ready) is not False,
                terminating=bool(conditions.get("terminating", False)),
                uid=target.get("uid") or address,
                pod=target.get("name") if target.get("kind") == "Pod" else None,
                scheme=scheme))
    return tuple(found)


def replicas_owners(raw: Mapping[str, Any]) -> list[ReplicasWriter]:
    """The ``managedFields`` entries of an object (as JSON) that own ``spec.replicas``."""
    found = []
    for entry in (raw.get("metadata") or {}).get("managedFields") or []:
        fields = entry.get("fieldsV1") or {}
        if "f:replicas" in (fields.get("f:spec") or {}):
            found.append(ReplicasWriter(entry.get("manager") or "", entry.get("operation") or "",
                                        _seconds(entry.get("time")),
                                        entry.get("subresource") or ""))
    return found


def _micro(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return 0.0


def _plain(body: Any) -> dict[str, Any]:
    """A client model as the JSON the API server sent (camelCase keys)."""
    plain = client.ApiClient().sanitize_for_serialization(body)  # type: ignore[no-untyped-call]
    return plain if isinstance(plain, dict) else {}


def _lease(body: Any) -> Lease:
    raw = _plain(body)
    spec, metadata = raw.get("spec") or {}, raw.get("metadata") or {}
    return Lease(holder=spec.get("holderIdentity") or "",
                 duration_s=int(spec.get("leaseDurationSeconds") or 0),
                 acquire_time=_seconds(spec.get("acquireTime")),
                 renew_time=_seconds(spec.get("renewTime")),
                 transitions=int(spec.get("leaseTransitions") or 0),
                 resource_version=metadata.get("resourceVersion") or "")


def _lease_body(name: str, lease: Lease) -> client.V1Lease:
    return client.V1Lease(
        metadata=client.V1ObjectMeta(name=name, resource_version=lease.resource_version or None),
        spec=client.V1LeaseSpec(holder_identity=lease.holder,
                                lease_duration_seconds=lease.duration_s,
                                acquire_time=_micro(lease.acquire_time),
                                renew_time=_micro(lease.renew_time),
                                lease_transitions=lease.transitions))


class OfficialKubeApi:
    """``KubeApi`` over the official client."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self._client = api_client
        self._apps = client.AppsV1Api(api_client)
        self._discovery = client.DiscoveryV1Api(api_client)
        self._leases = client.CoordinationV1Api(api_client)
        self._events = client.EventsV1Api(api_client)
        self._hpas = client.AutoscalingV2Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)

    async def get_scale(self, namespace: str, deployment: str) -> Scale:
        body = await asyncio.to_thread(_call, self._apps.read_namespaced_deployment_scale,
                                       deployment, namespace)
        return _scale(body)

    async def replace_scale(self, namespace: str, deployment: str, replicas: int,
                            resource_version: str) -> Scale:
        body = client.V1Scale(
            api_version="autoscaling/v1", kind="Scale",
            metadata=client.V1ObjectMeta(name=deployment, namespace=namespace,
                                         resource_version=resource_version),
            spec=client.V1ScaleSpec(replicas=replicas))
        answer = await asyncio.to_thread(
            _call, self._apps.replace_namespaced_deployment_scale, deployment, namespace, body,
            field_manager=FIELD_MANAGER)
        return _scale(answer)

    async def replicas_writers(self, namespace: str, deployment: str
                               ) -> list[ReplicasWriter]:
        response = await asyncio.to_thread(
            _call, self._apps.read_namespaced_deployment, deployment, namespace,
            _preload_content=False)
        return replicas_owners(json.loads(response.data))

    async def list_endpoint_slices(self, namespace: str, service: str) -> SliceList:
        response = await asyncio.to_thread(
            _call, self._discovery.list_namespaced_endpoint_slice, namespace,
            label_selector=f"{SERVICE_LABEL}={service}", _preload_content=False)
        raw = json.loads(response.data)
        slices = {item["metadata"]["name"]: endpoints_of(item) for item in raw.get("items", [])}
        return SliceList(slices, raw.get("metadata", {}).get("resourceVersion", ""))

    def watch_endpoint_slices(self, namespace: str, service: str, resource_version: str,
                              timeout_s: int) -> Iterator[SliceEvent]:
        stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
            self._discovery.list_namespaced_endpoint_slice, namespace,
            label_selector=f"{SERVICE_LABEL}={service}", resource_version=resource_version,
            timeout_seconds=timeout_s, allow_watch_bookmarks=True,
            _request_timeout=timeout_s + _TIMEOUT_S)
        try:
            for event in stream:
                kind = event.get("type", "")
                raw = event.get("raw_object") or {}
                if kind not in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK"):
                    continue
                metadata = raw.get("metadata") or {}
                endpoints = () if kind in ("DELETED", "BOOKMARK") else endpoints_of(raw)
                yield SliceEvent(kind, metadata.get("name", ""), endpoints,
                                 metadata.get("resourceVersion", ""))
        except ApiException as error:
            raise _error(error) from None

    async def get_lease(self, namespace: str, name: str) -> Lease | None:
        try:
            body = await asyncio.to_thread(_call, self._leases.read_namespaced_lease, name,
                                           namespace)
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        return _lease(body)

    async def create_lease(self, namespace: str, name: str, lease: Lease) -> Lease:
        body = await asyncio.to_thread(_call, self._leases.create_namespaced_lease, namespace,
                                       _lease_body(name, lease), field_manager=FIELD_MANAGER)
        return _lease(body)

    async def replace_lease(self, namespace: str, name: str, lease: Lease) -> Lease:
        body = await asyncio.to_thread(_call, self._leases.replace_namespaced_lease, name,
                                       namespace, _lease_body(name, lease),
                                       field_manager=FIELD_MANAGER)
        return _lease(body)

    async def create_event(self, namespace: str, event: EventSpec) -> None:
        ref = event.regarding
        stamp = _micro(event.at)
        body = client.EventsV1Event(
            metadata=client.V1ObjectMeta(
                name=f"{ref.name}.{int(event.at * 1e6):x}", namespace=namespace),
            event_time=stamp, type=event.type, reason=event.reason, note=event.note[:1024],
            action=event.action, reporting_controller="ebb.dev/controller",
            reporting_instance=event.instance[:128],
            regarding=client.V1ObjectReference(api_version=ref.api_version, kind=ref.kind,
                                               name=ref.name, namespace=ref.namespace))
        await asyncio.to_thread(_call, self._events.create_namespaced_event, namespace, body)

    async def list_hpa_targets(self, namespace: str) -> list[HpaTarget]:
        answer = await asyncio.to_thread(
            _call, self._hpas.list_namespaced_horizontal_pod_autoscaler, namespace)
        found = []
        for item in _plain(answer).get("items") or []:
            ref = (item.get("spec") or {}).get("scaleTargetRef") or {}
            found.append(HpaTarget((item.get("metadata") or {}).get("name", ""),
                                   ref.get("kind", ""), ref.get("name", "")))
        return found

    async def get_inference_service_annotations(self, namespace: str, name: str
                                                ) -> Mapping[str, str] | None:
        try:
            body = await asyncio.to_thread(
                _call, self._custom.get_namespaced_custom_object, "serving.kserve.io",
                "v1beta1", namespace, "inferenceservices", name)
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        return dict(body.get("metadata", {}).get("annotations") or {})

    async def annotate_pod(self, namespace: str, pod: str,
                           annotations: Mapping[str, str | None]) -> None:
        body = {"metadata": {"annotations": dict(annotations)}}
        await asyncio.to_thread(_call, self._core.patch_namespaced_pod, pod, namespace, body,
                                field_manager=FIELD_MANAGER)


def _scale(body: Any) -> Scale:
    raw = _plain(body)
    metadata, spec, status = (raw.get(key) or {} for key in ("metadata", "spec", "status"))
    return Scale(name=metadata.get("name", ""), replicas=int(spec.get("replicas") or 0),
                 status_replicas=int(status.get("replicas") or 0),
                 selector=status.get("selector") or "",
                 resource_version=metadata.get("resourceVersion") or "")
