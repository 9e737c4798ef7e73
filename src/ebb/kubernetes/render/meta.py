"""Names, labels and metadata shared by every rendered object.

Every object carries ``app.kubernetes.io/{name=ebb, instance=<name>, component, managed-by=ebb}``
(SPEC §1). Plain Deployments select their pods by name, instance and component; under KServe the
pods carry the labels KServe writes (``serving.kserve.io/inferenceservice: <name>``,
``component: predictor``), and the scale target is KServe's ``<name>-predictor`` Deployment.
"""

from __future__ import annotations

from typing import Any

from ebb.kubernetes.render.options import RenderOptions

HTTP_PORT = 8080
GRPC_PORT = 8081
CONTROLLER_HTTP_PORT = 8090
CONTROLLER_KEDA_PORT = 8091
SERVER = "server"
CONTROLLER = "controller"
MONITORING = "monitoring"
SCALING = "autoscaling"
RUNTIME_NAME = "ebb"
"""The ClusterServingRuntime every Ebb InferenceService names in ``spec.predictor.model``."""
KSERVE_CONTAINER = "kserve-container"
"""KServe merges the InferenceService's model container into the runtime container of this name."""
SERVER_CONTAINER = "ebb"
RELEASE_LABEL = "release"


def labels(options: RenderOptions, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "ebb",
        "app.kubernetes.io/instance": options.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "ebb",
    }


def selector_labels(options: RenderOptions, component: str = SERVER) -> dict[str, str]:
    """The labels a selector matches: stable across releases, so never the version."""
    if options.kserve and component == SERVER:
        return {"serving.kserve.io/inferenceservice": options.name, "component": "predictor"}
    return {"app.kubernetes.io/name": "ebb", "app.kubernetes.io/instance": options.name,
            "app.kubernetes.io/component": component}


def metadata(options: RenderOptions, name: str, component: str, *,
             namespaced: bool = True, extra_labels: dict[str, str] | None = None,
             annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespaced:
        meta["namespace"] = options.namespace
    meta["labels"] = {**labels(options, component), **(extra_labels or {})}
    if annotations:
        meta["annotations"] = annotations
    return meta


def release_labels(options: RenderOptions) -> dict[str, str]:
    """What the Prometheus CR's podMonitorSelector and ruleSelector match."""
    return {RELEASE_LABEL: options.release_label} if options.release_label else {}


def workload_name(options: RenderOptions) -> str:
    """The Deployment whose replicas scale: KServe names it ``<isvc>-predictor``."""
    return f"{options.name}-predictor" if options.kserve else options.name


def service_name(options: RenderOptions) -> str:
    """The Service in front of the serving pods (KServe's is ``<isvc>-predictor`` too)."""
    return workload_name(options)


def controller_name(options: RenderOptions) -> str:
    return f"{options.name}-controller"


def server_container(options: RenderOptions) -> str:
    return KSERVE_CONTAINER if options.kserve else SERVER_CONTAINER


def scale_target_ref(options: RenderOptions) -> dict[str, str]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload_name(options)}


def http_port_name(options: RenderOptions) -> str:
    """Mesh protocol sniffing goes by the port name's prefix: ``http``/``https``."""
    return "https" if options.tls_secret else "http"


def grpc_port_name(options: RenderOptions) -> str:
    """``grpc`` is cleartext HTTP/2 (h2c); with TLS the prefix ``tls`` tells a mesh to pass it
    through."""
    return "tls-grpc" if options.tls_secret else "grpc"
