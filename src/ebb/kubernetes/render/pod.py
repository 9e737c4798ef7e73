"""The serving container and pod settings shared by the plain Deployment and KServe.

Graceful termination (SPEC §4.7) happens inside the server: on SIGTERM ``ebb serve`` fails
``/v2/health/ready`` at once, keeps serving for ``--prestop-s`` while endpoints and load balancers
catch up, then stops accepting and drains for up to ``--drain-timeout-s``. So no preStop hook is
rendered (a ``sleep`` hook would delay SIGTERM and double the wait), and the grace period covers
both phases plus 10 s, counted from the delete as the kubelet does.
"""

from __future__ import annotations

from typing import Any

from ebb.kubernetes.render import meta
from ebb.kubernetes.render.options import RenderOptions

USER_ID = 10001
"""The image's numeric non-root user (``USER 10001`` in the Containerfile)."""
TLS_DIR = "/etc/ebb/tls"
KEYS_DIR = "/etc/ebb/keys"
KEYS_FILE_KEY = "keys.toml"
"""Key of ``--metrics-token-secret`` holding the server's API keys file."""
TOKEN_KEY = "token"
"""Key of ``--metrics-token-secret`` holding the observe key Prometheus sends."""
MODEL_DIR = "/mnt/models"
MEMORY_PER_WORKER_MI = 512


def serve_flags(options: RenderOptions) -> list[str]:
    """``ebb serve`` flags that depend on this deployment (model and name aside)."""
    flags = ["--workers", str(options.workers),
             "--prestop-s", str(options.prestop_s),
             "--drain-timeout-s", str(options.drain_timeout_s)]
    if options.trust_pickle:
        flags.append("--trust-pickle")
    if options.tls_secret:
        flags += ["--tls-cert-file", f"{TLS_DIR}/tls.crt", "--tls-key-file", f"{TLS_DIR}/tls.key"]
    if options.metrics_token_secret:
        flags += ["--auth-keys-file", f"{KEYS_DIR}/{KEYS_FILE_KEY}"]
    return flags


def listen_flags() -> list[str]:
    """All interfaces, fixed ports: a pod has its own network namespace."""
    return ["--host", "0.0.0.0", "--http-port", str(meta.HTTP_PORT),
            "--grpc-port", str(meta.GRPC_PORT)]


def model_argument(options: RenderOptions) -> list[str]:
    """The MODEL positional: a storage URI becomes the file KServe downloads to /mnt/models."""
    if options.storage_uri:
        return [f"{MODEL_DIR}/{options.storage_uri.rstrip('/').rsplit('/', 1)[-1]}"]
    return [options.model] if options.model else []


def ports(options: RenderOptions) -> list[dict[str, Any]]:
    return [
        {"name": meta.http_port_name(options), "containerPort": meta.HTTP_PORT,
         "protocol": "TCP"},
        {"name": meta.grpc_port_name(options), "containerPort": meta.GRPC_PORT,
         "protocol": "TCP"},
    ]


def probes(options: RenderOptions) -> dict[str, Any]:
    """Open Inference Protocol health paths; they need no API key. Startup allows 5 minutes of
    model loading before liveness counts; readiness reacts within a second or two."""
    scheme = "HTTPS" if options.tls_secret else "HTTP"

    def get(path: str) -> dict[str, Any]:
        return {"path": path, "port": meta.http_port_name(options), "scheme": scheme}

    return {
        "startupProbe": {"httpGet": get("/v2/health/live"), "periodSeconds": 2,
                         "failureThreshold": 150, "timeoutSeconds": 2},
        "livenessProbe": {"httpGet": get("/v2/health/live"), "periodSeconds": 10,
                          "failureThreshold": 3, "timeoutSeconds": 5},
        "readinessProbe": {"httpGet": get("/v2/health/ready"), "periodSeconds": 2,
                           "failureThreshold": 1, "successThreshold": 1, "timeoutSeconds": 2},
    }


def resources(options: RenderOptions) -> dict[str, Any]:
    """One core per worker (inference is CPU bound); no CPU limit, since throttling is latency.
    Memory: the gateway plus each worker, limited at the request (no overcommit)."""
    memory = f"{MEMORY_PER_WORKER_MI * (options.workers + 1)}Mi"
    return {"requests": {"cpu": str(options.workers), "memory": memory},
            "limits": {"memory": memory}}


def container_security_context() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "runAsNonRoot": True, "runAsUser": USER_ID, "runAsGroup": USER_ID,
            "capabilities": {"drop": ["ALL"]}}


def pod_security_context() -> dict[str, Any]:
    """The restricted Pod Security Standard: non-root, seccomp RuntimeDefault."""
    return {"runAsNonRoot": True, "runAsUser": USER_ID, "runAsGroup": USER_ID,
            "fsGroup": USER_ID, "seccompProfile": {"type": "RuntimeDefault"}}


def tmp_volume() -> tuple[dict[str, Any], dict[str, Any]]:
    """The only writable path under a read-only root: the worker fork server's socket and the
    demo model's cache (``EBB_CACHE_DIR`` in the image) live here."""
    return ({"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "tmp", "mountPath": "/tmp"})


def secret_volumes(options: RenderOptions) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(volumes, volumeMounts)`` for the TLS and API-key Secrets that are configured."""
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    if options.tls_secret:
        volumes.append({"name": "tls", "secret": {"secretName": options.tls_secret,
                                                  "defaultMode": 0o440}})
        mounts.append({"name": "tls", "mountPath": TLS_DIR, "readOnly": True})
    if options.metrics_token_secret:
        volumes.append({"name": "api-keys", "secret": {
            "secretName": options.metrics_token_secret, "defaultMode": 0o440,
            "items": [{"key": KEYS_FILE_KEY, "path": KEYS_FILE_KEY}]}})
        mounts.append({"name": "api-keys", "mountPath": KEYS_DIR, "readOnly": True})
    return volumes, mounts


def server_container(options: RenderOptions) -> dict[str, Any]:
    """The ``ebb serve`` container of a plain Deployment. The image's entrypoint is tini, so
    ``args`` is the whole command and tini stays PID 1."""
    tmp_mount = tmp_volume()[1]
    return {
        "name": meta.SERVER_CONTAINER,
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["ebb", "serve", *model_argument(options), "--name", options.name,
                 *listen_flags(), *serve_flags(options)],
        "ports": ports(options),
        **probes(options),
        "resources": resources(options),
        "securityContext": container_security_context(),
        "volumeMounts": [tmp_mount, *secret_volumes(options)[1]],
    }
