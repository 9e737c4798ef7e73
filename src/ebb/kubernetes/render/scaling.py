"""The scale writers other than the Ebb controller: a KEDA ScaledObject or an HPA (with the
prometheus-adapter rules it reads), and a recommendation-only VPA.

KEDA: the prometheus trigger says ``ignoreNullValues: "false"``, so a query that finds no series
is an error that reaches ``fallback`` instead of a silent 0 that scales in; the fallback keeps
the current count when it is higher (no scale-in while blind). With ``--keda-external`` the
trigger is the Ebb controller's external scaler, which pushes its desired count.
"""

from __future__ import annotations

from typing import Any

import yaml

from ebb.kubernetes.render import meta
from ebb.kubernetes.render.options import RenderOptions
from ebb.kubernetes.render.promql import queue_depth, threshold
from ebb.metrics import names

FALLBACK_FAILURES = 3
POLLING_INTERVAL_S = 5
COOLDOWN_S = 120
CPU_UTILISATION = 70
MEMORY_UTILISATION = 80
ADAPTER_CONFIG_KEY = "config.yaml"


def scaled_object(options: RenderOptions) -> dict[str, Any]:
    if options.keda_external:
        trigger: dict[str, Any] = {
            "type": "external-push", "name": "ebb-controller", "metricType": "AverageValue",
            "metadata": {"scalerAddress": f"{meta.controller_name(options)}."
                                          f"{options.namespace}.svc:{meta.CONTROLLER_KEDA_PORT}"}}
    else:
        trigger = {
            "type": "prometheus", "name": "queue-depth", "metricType": "AverageValue",
            "metadata": {"serverAddress": options.prometheus_url,
                         "query": queue_depth(options),
                         "threshold": threshold(options.target_queue),
                         "ignoreNullValues": "false"}}
    return {
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
        "metadata": meta.metadata(options, options.name, meta.SCALING),
        "spec": {
            "scaleTargetRef": meta.scale_target_ref(options),
            "pollingInterval": POLLING_INTERVAL_S,
            "cooldownPeriod": COOLDOWN_S,
            "minReplicaCount": options.min_replicas,
            "maxReplicaCount": options.max_replicas,
            "fallback": {"failureThreshold": FALLBACK_FAILURES,
                         "replicas": max(options.min_replicas, 1),
                         "behavior": "currentReplicasIfHigher"},
            "triggers": [trigger],
        },
    }


def horizontal_pod_autoscaler(options: RenderOptions) -> dict[str, Any]:
    """Queue depth per pod as a Pods metric (served by prometheus-adapter's custom metrics
    API); with ``--hpa-resource-metrics`` also CPU and memory, the HPA taking the largest."""
    metrics: list[dict[str, Any]] = [{"type": "Pods", "pods": {
        "metric": {"name": names.QUEUE_DEPTH},
        "target": {"type": "AverageValue", "averageValue": threshold(options.target_queue)}}}]
    if options.hpa_resource_metrics:
        for resource, percent in (("cpu", CPU_UTILISATION), ("memory", MEMORY_UTILISATION)):
            metrics.append({"type": "Resource", "resource": {
                "name": resource,
                "target": {"type": "Utilization", "averageUtilization": percent}}})
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": meta.metadata(options, options.name, meta.SCALING),
        "spec": {"scaleTargetRef": meta.scale_target_ref(options),
                 "minReplicas": options.min_replicas,
                 "maxReplicas": options.max_replicas,
                 "metrics": metrics,
                 "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0},
                              "scaleDown": {"stabilizationWindowSeconds": COOLDOWN_S}}},
    }


def adapter_rules() -> dict[str, Any]:
    """prometheus-adapter's config (``rules``, custom.metrics.k8s.io): each pod's queue depth
    as the Pods metric ``ebb_queue_depth`` of the pod and namespace it was scraped from."""
    return {"rules": [{
        "seriesQuery": f'{names.QUEUE_DEPTH}{{namespace!="",pod!=""}}',
        "resources": {"overrides": {"namespace": {"resource": "namespace"},
                                    "pod": {"resource": "pod"}}},
        "name": {"matches": f"^{names.QUEUE_DEPTH}$", "as": names.QUEUE_DEPTH},
        "metricsQuery": "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
    }]}


def adapter_config_map(options: RenderOptions) -> dict[str, Any]:
    """The rules in the adapter's documented file format, to merge into its configuration
    (the adapter reads one file, usually its Helm chart's ConfigMap in its own namespace)."""
    text = yaml.safe_dump(adapter_rules(), sort_keys=False, width=10_000)
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": meta.metadata(options, f"{options.name}-prometheus-adapter",
                                      meta.SCALING),
            "data": {ADAPTER_CONFIG_KEY: text}}


def vertical_pod_autoscaler(options: RenderOptions) -> dict[str, Any]:
    """Recommendations only (``updateMode: "Off"``): read them with ``kubectl describe vpa``."""
    return {
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
        "metadata": meta.metadata(options, options.name, meta.SCALING),
        "spec": {"targetRef": meta.scale_target_ref(options),
                 "updatePolicy": {"updateMode": "Off"},
                 "resourcePolicy": {"containerPolicies": [{
                     "containerName": meta.server_container(options),
                     "controlledResources": ["cpu", "memory"]}]}},
    }
