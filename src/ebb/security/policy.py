"""Who may do what: the action a request asks for, and whether a key may do it. Pure.

    action_for_http("POST", "/v2/models/m/infer")   -> Action.INFER, "m"
    action_for_grpc("/inference.GRPCInferenceService/ServerMetadata") -> Action.OBSERVE
    action_for_http("GET", "/v2/models/stats")      -> Action.OBSERVE, None  (every model's)
    permission(key, Action.INFER, "m")              -> None (allowed) or the reason it is not

Health checks are open (probes carry no keys), and so are the dashboard's page and its static
files (they hold no data; the page asks for a key when its data feed answers 401). A path this
table does not know needs a valid key of any role, so that unknown routes answer 404 only to
key holders.
"""

from __future__ import annotations

from enum import Enum

from ebb.security.keys import ApiKey, Role


class Action(Enum):
    OPEN = "open"                  # no key needed
    AUTHENTICATED = "authenticated"  # any valid key
    INFER = "infer"
    OBSERVE = "observe"
    ADMIN = "admin"


ROLE_FOR = {Action.INFER: Role.INFER, Action.OBSERVE: Role.OBSERVE, Action.ADMIN: Role.ADMIN}

_OPEN_PATHS = frozenset({"/v2/health/live", "/v2/health/ready", "/dashboard",
                         "/dashboard/static/dashboard.js", "/dashboard/static/dashboard.css",
                         "/dashboard/static/uPlot.iife.min.js",
                         "/dashboard/static/uPlot.min.css"})
_OBSERVE_PATHS = frozenset({"/metrics", "/dashboard/data", "/v2", "/v2/", "/openapi.json"})
_GRPC_SERVICE = "/inference.GRPCInferenceService/"
_GRPC_ACTIONS = {"ServerLive": Action.OPEN, "ServerReady": Action.OPEN,
                 "ServerMetadata": Action.OBSERVE, "ModelReady": Action.INFER,
                 "ModelMetadata": Action.INFER, "ModelInfer": Action.INFER,
                 "ModelStreamInfer": Action.INFER, "RepositoryIndex": Action.ADMIN,
                 "RepositoryModelLoad": Action.ADMIN, "RepositoryModelUnload": Action.ADMIN,
                 "ModelStatistics": Action.OBSERVE, "ModelConfig": Action.INFER}
_ALL_STATISTICS = "/v2/models/stats"


def action_for_http(method: str, path: str) -> tuple[Action, str | None]:
    """The action and the model (if any) of an HTTP request; the method matters only in that
    every method on a model path is a model action (the app answers 405 where it should)."""
    if path in _OPEN_PATHS:
        return Action.OPEN, None
    if path in _OBSERVE_PATHS or path == _ALL_STATISTICS:
        return Action.OBSERVE, None
    if path.startswith("/v2/models/") and path.endswith("/stats"):
        return Action.OBSERVE, path[11:].split("/", 1)[0]  # statistics are observation
    if path.startswith("/v2/models/"):
        return Action.INFER, path[11:].split("/", 1)[0]
    if path.startswith("/v1/models/"):
        return Action.INFER, path[11:].split("/", 1)[0].removesuffix(":predict")
    if path.startswith("/v2/repository"):
        return Action.ADMIN, None
    return Action.AUTHENTICATED, None


def is_inference_http(method: str, path: str) -> bool:
    """Whether an HTTP request asks a model for an answer: what the inference log records,
    refused or not (metadata and readiness calls are not inferences)."""
    return method == "POST" and (
        (path.startswith("/v2/models/") and path.endswith("/infer"))
        or (path.startswith("/v1/models/") and path.endswith(":predict")))


def is_inference_grpc(method: str) -> bool:
    return method in _GRPC_INFERENCE


_GRPC_INFERENCE = frozenset({f"{_GRPC_SERVICE}ModelInfer", f"{_GRPC_SERVICE}ModelStreamInfer"})


def action_for_grpc(method: str) -> Action:
    """The action of a gRPC method (its full name, ``/package.Service/Method``)."""
    if not method.startswith(_GRPC_SERVICE):
        return Action.AUTHENTICATED
    return _GRPC_ACTIONS.get(method[len(_GRPC_SERVICE):], Action.AUTHENTICATED)


def permission(key: ApiKey, action: Action, model: str | None) -> str | None:
    """None when `key` may do `action` on `model`, else why not (a message for the client)."""
    role = ROLE_FOR.get(action)
    if role is not None and role not in key.roles:
        held = ", ".join(sorted(r.value for r in key.roles))
        return f"key {key.id!r} lacks the {role.value!r} role (it has: {held})"
    if model is not None and key.models is not None and model not in key.models:
        return f"key {key.id!r} may not use model {model!r}"
    return None
