"""KServe: a ClusterServingRuntime declaring Ebb, and an InferenceService in Standard mode.

What is per model (workers, drain times, secrets, the model itself) goes into the
InferenceService, which KServe merges into the runtime's ``kserve-container``; the runtime holds
what every Ebb model shares. ``autoscalerClass`` (SPEC §2(b)): ``external`` leaves replicas to the
Ebb controller or to our own HPA/ScaledObject on ``<name>-predictor``; ``keda`` makes KServe create
the ScaledObject from ``autoScaling``; ``none`` pins replicas to ``minReplicas``.
"""

from __future__ import annotations

from typing import Any

from ebb.kubernetes.render import meta, pod
from ebb.kubernetes.render.options import PICKLE_SUFFIXES, RenderOptions
from ebb.kubernetes.render.promql import queue_depth, threshold

MODEL_FORMATS = ("onnx", "sklearn", "pytorch", "ebb")
"""``ebb`` is Ebb's own format: builtins, ``module:Class`` and the demo model."""
PROTOCOL_VERSIONS = ("v2", "grpc-v2")
"""KServe's values (pkg/constants); the CRD does not enum-check them, so they are pinned here."""


def serving_runtime(options: RenderOptions) -> dict[str, Any]:
    container = {
        "name": meta.KSERVE_CONTAINER,
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        # KServe fills {{.Name}} from the InferenceService: the model is served under its name.
        "args": ["ebb", "serve", "--name", "{{.Name}}", *pod.listen_flags()],
        "ports": pod.ports(options),
        **pod.probes(options),
        "resources": pod.resources(options),
        "securityContext": pod.container_security_context(),
        "volumeMounts": [pod.tmp_volume()[1]],
    }
    return {
        "apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterServingRuntime",
        "metadata": meta.metadata(options, meta.RUNTIME_NAME, meta.SERVER, namespaced=False),
        "spec": {
            "annotations": {"prometheus.kserve.io/port": str(meta.HTTP_PORT),
                            "prometheus.kserve.io/path": "/metrics"},
            "supportedModelFormats": [{"name": name, "autoSelect": name == "ebb"}
                                      for name in MODEL_FORMATS],
            "protocolVersions": list(PROTOCOL_VERSIONS),
            "containers": [container],
            "volumes": [pod.tmp_volume()[0]],
        },
    }


def model_format(options: RenderOptions) -> str:
    path = (options.model or "").split("?", 1)[0].lower()
    if path.endswith(".onnx"):
        return "onnx"
    if path.endswith(PICKLE_SUFFIXES):
        return "sklearn"
    if path.endswith((".pt", ".pth", ".torchscript")):
        return "pytorch"
    return "ebb"


def autoscaler_class(options: RenderOptions) -> str:
    return {"kserve-keda": "keda", "none": "none"}.get(options.autoscaler, "external")


def inference_service(options: RenderOptions) -> dict[str, Any]:
    mode = "Standard" if options.kserve_version >= (0, 16) else "RawDeployment"
    annotations = {
        "serving.kserve.io/deploymentMode": mode,
        "serving.kserve.io/autoscalerClass": autoscaler_class(options),
        # "true" points annotation scrapers at queue-proxy's port, absent in Standard mode.
        "serving.kserve.io/enable-prometheus-scraping": "false",
    }
    volumes, mounts = pod.secret_volumes(options)
    model: dict[str, Any] = {
        "modelFormat": {"name": model_format(options)},
        "runtime": meta.RUNTIME_NAME,
        "protocolVersion": "v2",
        "args": [*pod.model_argument(options), *pod.serve_flags(options)],
        "resources": pod.resources(options),
    }
    if options.storage_uri:
        model["storageUri"] = options.storage_uri
    if mounts:
        model["volumeMounts"] = mounts
    predictor: dict[str, Any] = {
        "serviceAccountName": options.name,
        "automountServiceAccountToken": False,
        "minReplicas": options.min_replicas,
        "maxReplicas": options.max_replicas,
        "terminationGracePeriodSeconds": options.termination_grace_s,
        "securityContext": pod.pod_security_context(),
        "model": model,
    }
    if volumes:
        predictor["volumes"] = volumes
    if options.autoscaler == "kserve-keda":
        predictor["autoScaling"] = {"metrics": [_queue_metric(options)]}
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": meta.metadata(options, options.name, meta.SERVER,
                                      annotations=annotations),
            "spec": {"predictor": predictor}}


def _queue_metric(options: RenderOptions) -> dict[str, Any]:
    """KServe turns this into a prometheus trigger whose threshold is ``target.value`` per
    replica (KEDA's default AverageValue); it sets neither a fallback nor ignoreNullValues."""
    return {"type": "External", "external": {
        "metric": {"backend": "prometheus", "serverAddress": options.prometheus_url,
                   "query": queue_depth(options)},
        "target": {"type": "Value", "value": threshold(options.target_queue)},
    }}

