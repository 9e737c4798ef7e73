"""The plain serving workload: Deployment, Service, PodDisruptionBudget and ServiceAccount."""

from __future__ import annotations

from typing import Any

from ebb.kubernetes.render import meta, pod
from ebb.kubernetes.render.options import RenderOptions


def service_account(options: RenderOptions) -> dict[str, Any]:
    """The serving pods' identity; they never call the API, so no token is mounted."""
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": meta.metadata(options, options.name, meta.SERVER),
            "automountServiceAccountToken": False}


def deployment(options: RenderOptions) -> dict[str, Any]:
    """Without ``spec.replicas`` whenever something autoscales: an applied manifest that names
    replicas would reset the autoscaler's count on every ``kubectl apply``."""
    volumes, _ = pod.secret_volumes(options)
    spec: dict[str, Any] = {}
    if not options.writes_replicas:
        spec["replicas"] = options.min_replicas
    spec.update({
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": meta.selector_labels(options)},
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
        "template": {
            "metadata": {"labels": meta.labels(options, meta.SERVER),
                         "annotations": {"kubectl.kubernetes.io/default-container":
                                         meta.SERVER_CONTAINER}},
            "spec": {
                "serviceAccountName": options.name,
                "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": options.termination_grace_s,
                "securityContext": pod.pod_security_context(),
                "containers": [pod.server_container(options)],
                "volumes": [pod.tmp_volume()[0], *volumes],
            },
        },
    })
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": meta.metadata(options, options.name, meta.SERVER), "spec": spec}


def service(options: RenderOptions) -> dict[str, Any]:
    """ClusterIP Service; the gRPC port declares ``kubernetes.io/h2c`` so Gateway API
    implementations and meshes speak HTTP/2 in clear text to it."""
    grpc: dict[str, Any] = {"name": meta.grpc_port_name(options), "port": meta.GRPC_PORT,
                            "targetPort": meta.grpc_port_name(options), "protocol": "TCP"}
    if not options.tls_secret:
        grpc["appProtocol"] = "kubernetes.io/h2c"
    http = {"name": meta.http_port_name(options), "port": meta.HTTP_PORT,
            "targetPort": meta.http_port_name(options), "protocol": "TCP",
            "appProtocol": "https" if options.tls_secret else "http"}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": meta.metadata(options, meta.service_name(options), meta.SERVER),
            "spec": {"type": "ClusterIP", "selector": meta.selector_labels(options),
                     "ports": [http, grpc]}}


def pod_disruption_budget(options: RenderOptions) -> dict[str, Any]:
    """SPEC §4.6: one pod at a time, and a pod that is not ready may always be evicted (a node
    drain must not wait on a pod that could never become ready)."""
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": meta.metadata(options, options.name, meta.SERVER),
            "spec": {"maxUnavailable": 1,
                     "unhealthyPodEvictionPolicy": "AlwaysAllow",
                     "selector": {"matchLabels": meta.selector_labels(options)}}}
