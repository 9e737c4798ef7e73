"""Who may do what, as a pure function of the key, the action and the model."""

from __future__ import annotations

import pytest

from ebb.security.keys import ApiKey, Role
from ebb.security.policy import Action, action_for_grpc, action_for_http, permission

INFER_DOUBLE = ApiKey("ci", "h", frozenset({Role.INFER}), frozenset({"double"}))
OBSERVER = ApiKey("prom", "h", frozenset({Role.OBSERVE}))
EVERYTHING = ApiKey("root", "h", frozenset(Role))


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("GET", "/v2/health/live", (Action.OPEN, None)),
    ("GET", "/v2/health/ready", (Action.OPEN, None)),
    ("GET", "/dashboard", (Action.OPEN, None)),
    ("GET", "/dashboard/static/dashboard.js", (Action.OPEN, None)),
    ("GET", "/dashboard/data", (Action.OBSERVE, None)),
    ("GET", "/metrics", (Action.OBSERVE, None)),
    ("GET", "/v2", (Action.OBSERVE, None)),
    ("GET", "/openapi.json", (Action.OBSERVE, None)),
    ("POST", "/v2/models/double/infer", (Action.INFER, "double")),
    ("POST", "/v2/models/double/versions/1/infer", (Action.INFER, "double")),
    ("GET", "/v2/models/double", (Action.INFER, "double")),
    ("GET", "/v2/models/double/ready", (Action.INFER, "double")),
    ("POST", "/v1/models/double:predict", (Action.INFER, "double")),
    ("GET", "/v1/models/double", (Action.INFER, "double")),
    ("POST", "/v2/repository/models/double/load", (Action.ADMIN, None)),
    ("GET", "/v2/models/stats", (Action.OBSERVE, None)),
    ("GET", "/v2/models/double/stats", (Action.OBSERVE, "double")),
    ("GET", "/v2/models/double/versions/2/stats", (Action.OBSERVE, "double")),
    ("POST", "/v2/models/stats/infer", (Action.INFER, "stats")),
    ("GET", "/v2/models/double/config", (Action.INFER, "double")),
    ("GET", "/v2/health/liveX", (Action.AUTHENTICATED, None)),
    ("GET", "/nothing", (Action.AUTHENTICATED, None)),
])
def test_http_actions(method: str, path: str, expected: tuple[Action, str | None]) -> None:
    assert action_for_http(method, path) == expected


@pytest.mark.parametrize(("method", "expected"), [
    ("ServerLive", Action.OPEN), ("ServerReady", Action.OPEN),
    ("ServerMetadata", Action.OBSERVE), ("ModelReady", Action.INFER),
    ("ModelMetadata", Action.INFER), ("ModelInfer", Action.INFER),
    ("RepositoryModelLoad", Action.ADMIN), ("ModelStatistics", Action.OBSERVE),
    ("ModelConfig", Action.INFER), ("Nope", Action.AUTHENTICATED)])
def test_grpc_actions(method: str, expected: Action) -> None:
    assert action_for_grpc(f"/inference.GRPCInferenceService/{method}") is expected
    assert action_for_grpc(f"/other.Service/{method}") is Action.AUTHENTICATED


def test_roles_and_models_decide() -> None:
    assert permission(INFER_DOUBLE, Action.INFER, "double") is None
    assert permission(INFER_DOUBLE, Action.AUTHENTICATED, None) is None
    assert "may not use model 'other'" in str(permission(INFER_DOUBLE, Action.INFER, "other"))
    assert "lacks the 'observe' role (it has: infer)" in str(
        permission(INFER_DOUBLE, Action.OBSERVE, None))
    assert "lacks the 'admin' role" in str(permission(INFER_DOUBLE, Action.ADMIN, None))
    assert "lacks the 'infer' role" in str(permission(OBSERVER, Action.INFER, "double"))
    assert permission(OBSERVER, Action.OBSERVE, None) is None
    for action in Action:
        assert permission(EVERYTHING, action, "anything") is None
