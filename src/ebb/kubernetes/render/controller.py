"""The ``ebb controller`` Deployment and what it needs: identity, least-privilege RBAC, a Service
for its metrics (and KEDA external scaler) ports, a PDB and a PodMonitor.

Two replicas elect a leader through a Lease named after the release (``<name>-controller``, so
two releases in one namespace never share one), so one writes while the other waits to take over.
RBAC follows SPEC §2(g), plus ``patch`` on pods: before scaling in, the controller sets
``controller.kubernetes.io/pod-deletion-cost`` so the pods with the least queued work go first.
With ``--tls-secret`` or ``--metrics-token-secret`` the controller scrapes the pods as the
PodMonitor does: over https trusting ``ca.crt`` and expecting ``NAME.NS.svc``, with the
observe key as a bearer token.
"""

from __future__ import annotations

from typing import Any

from ebb.kubernetes.render import meta, monitoring, pod
from ebb.kubernetes.render.options import RenderOptions

READ = ["get", "list", "watch"]
SCRAPE_TLS_DIR = "/etc/ebb/scrape-tls"
SCRAPE_KEY_DIR = "/etc/ebb/scrape-key"


def controller_args(options: RenderOptions) -> list[str]:
    target = (f"inferenceservice/{options.name}" if options.kserve
              else f"deployment/{options.name}")
    args = ["ebb", "controller", "--target", target,
            "--service", meta.service_name(options),
            "--namespace", options.namespace,
            "--min-replicas", str(options.min_replicas),
            "--max-replicas", str(options.max_replicas),
            "--slo-ms", f"{options.slo_ms:g}",
            "--prometheus-url", options.prometheus_url,
            "--model", options.name,
            "--workers-per-pod", str(options.workers),
            "--lease-name", meta.controller_name(options)]
    if options.keda_external:
        args += ["--keda-external-scaler-port", str(meta.CONTROLLER_KEDA_PORT)]
    if options.tls_secret:
        args += ["--scrape-ca-file", f"{SCRAPE_TLS_DIR}/ca.crt", "--scrape-server-name",
                 f"{meta.service_name(options)}.{options.namespace}.svc"]
    if options.metrics_token_secret:
        args += ["--scrape-bearer-token-file", f"{SCRAPE_KEY_DIR}/{pod.TOKEN_KEY}"]
    return args


def scrape_volumes(options: RenderOptions) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(volumes, volumeMounts)``: of the pods' Secrets, only the CA certificate and the
    observe key, the controller's part (never the server's private key or keys file)."""
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    for secret, key, name, path in ((options.tls_secret, "ca.crt", "scrape-ca", SCRAPE_TLS_DIR),
                                    (options.metrics_token_secret, pod.TOKEN_KEY, "scrape-key",
                                     SCRAPE_KEY_DIR)):
        if secret:
            volumes.append({"name": name, "secret": {"secretName": secret, "defaultMode": 0o440,
                                                     "items": [{"key": key, "path": key}]}})
            mounts.append({"name": name, "mountPath": path, "readOnly": True})
    return volumes, mounts


def rbac(options: RenderOptions) -> list[dict[str, Any]]:
    """ServiceAccount, Role and RoleBinding, all in the target's namespace."""
    name = meta.controller_name(options)
    rules: list[dict[str, Any]] = [
        {"apiGroups": ["apps"], "resources": ["deployments/scale"],
         "verbs": ["get", "update", "patch"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": READ},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": READ},
        {"apiGroups": [""], "resources": ["pods"], "verbs": [*READ, "patch"]},
        {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": READ},
        {"apiGroups": ["keda.sh"], "resources": ["scaledobjects"], "verbs": READ},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "resourceNames": [name], "verbs": ["get", "update", "patch"]},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    ]
    if options.kserve:
        rules.insert(2, {"apiGroups": ["serving.kserve.io"], "resources": ["inferenceservices"],
                         "verbs": READ})
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": meta.metadata(options, name, meta.CONTROLLER)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": meta.metadata(options, name, meta.CONTROLLER), "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": meta.metadata(options, name, meta.CONTROLLER),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": name,
                       "namespace": options.namespace}]},
    ]


def _ports(options: RenderOptions) -> list[dict[str, Any]]:
    ports = [{"name": "http", "containerPort": meta.CONTROLLER_HTTP_PORT, "protocol": "TCP"}]
    if options.keda_external:
        ports.append({"name": "grpc", "containerPort": meta.CONTROLLER_KEDA_PORT,
                      "protocol": "TCP"})
    return ports


def deployment(options: RenderOptions) -> dict[str, Any]:
    name = meta.controller_name(options)
    health = {"path": "/healthz", "port": "http"}
    container = {
        "name": "controller", "image": options.image, "imagePullPolicy": "IfNotPresent",
        "args": controller_args(options),
        # The Lease holder's identity: the pod name, unique and readable in `kubectl get lease`.
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "ports": _ports(options),
        "livenessProbe": {"httpGet": health, "periodSeconds": 10, "failureThreshold": 3},
        "readinessProbe": {"httpGet": health, "periodSeconds": 5},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                      "limits": {"memory": "256Mi"}},
        "securityContext": pod.container_security_context(),
        "volumeMounts": [pod.tmp_volume()[1], *scrape_volumes(options)[1]],
    }
    spread = {"weight": 100, "podAffinityTerm": {
        "topologyKey": "kubernetes.io/hostname",
        "labelSelector": {"matchLabels": meta.selector_labels(options, meta.CONTROLLER)}}}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": meta.metadata(options, name, meta.CONTROLLER),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": meta.selector_labels(options, meta.CONTROLLER)},
            "template": {
                "metadata": {"labels": meta.labels(options, meta.CONTROLLER)},
                "spec": {
                    "serviceAccountName": name,
                    "securityContext": pod.pod_security_context(),
                    "affinity": {"podAntiAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [spread]}},
                    "containers": [container],
                    "volumes": [pod.tmp_volume()[0], *scrape_volumes(options)[0]],
                },
            },
        },
    }


def service(options: RenderOptions) -> dict[str, Any]:
    """Metrics and health on 8090; KEDA's external scaler (gRPC, h2c) on 8091."""
    ports: list[dict[str, Any]] = [
        {"name": "http", "port": meta.CONTROLLER_HTTP_PORT, "targetPort": "http",
         "protocol": "TCP", "appProtocol": "http"},
        {"name": "grpc", "port": meta.CONTROLLER_KEDA_PORT,
         "targetPort": meta.CONTROLLER_KEDA_PORT, "protocol": "TCP",
         "appProtocol": "kubernetes.io/h2c"},
    ]
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": meta.metadata(options, meta.controller_name(options), meta.CONTROLLER),
            "spec": {"type": "ClusterIP",
                     "selector": meta.selector_labels(options, meta.CONTROLLER),
                     "ports": ports}}


def pod_disruption_budget(options: RenderOptions) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": meta.metadata(options, meta.controller_name(options), meta.CONTROLLER),
            "spec": {"maxUnavailable": 1,
                     "selector": {"matchLabels": meta.selector_labels(options, meta.CONTROLLER)}}}


def pod_monitor(options: RenderOptions) -> dict[str, Any]:
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
            "metadata": meta.metadata(options, meta.controller_name(options), meta.CONTROLLER,
                                      extra_labels=meta.release_labels(options)),
            "spec": {"selector": {"matchLabels": meta.selector_labels(options, meta.CONTROLLER)},
                     "podMetricsEndpoints": [{"port": "http", "path": "/metrics",
                                              "interval": monitoring.SCRAPE_INTERVAL}]}}
