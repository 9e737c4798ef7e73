"""Settings reach the guards: wire limits, the browser policy and the memory budget, and the
repeatable flags parse into lists."""

from __future__ import annotations

from ebb.app.guards import browser_guard, grpc_options, request_budget, wire_limits
from ebb.cli import build_parser
from ebb.config import ServeSettings, load_settings


def test_repeatable_browser_flags_and_limits_reach_the_guards() -> None:
    args = vars(build_parser().parse_args([
        "serve", "--cors-origin", "http://a.example", "--cors-origin", "*",
        "--allowed-host", "api.internal", "--max-header-kb", "8", "--keep-alive-s", "90",
        "--max-inflight-request-mb", "1.5"]))
    settings = load_settings({key: value for key, value in args.items()
                              if key in ServeSettings.model_fields})
    assert settings.cors_origin == ["http://a.example", "*"]
    assert settings.allowed_host == ["api.internal"]
    limits = wire_limits(settings)
    assert (limits.max_head_bytes, limits.keep_alive_s) == (8192, 90)
    assert request_budget(settings).limit_bytes == 1_572_864
    assert len(browser_guard(settings)) == 1


def test_defaults_outlast_balancers() -> None:
    limits = wire_limits(ServeSettings())
    assert limits.keep_alive_s == 75 and limits.header_timeout_s == 10
    assert limits.max_connections == 10_000 and limits.max_head_bytes == 65_536


def test_grpc_gets_the_same_connection_limits_as_http() -> None:
    options = dict(grpc_options(ServeSettings(max_connections=50, header_timeout_s=2.5,
                                              keep_alive_s=90, max_header_kb=8)))
    assert options["grpc.max_allowed_incoming_connections"] == 50
    assert options["grpc.server_handshake_timeout_ms"] == 2500
    assert options["grpc.max_connection_idle_ms"] == 90_000
    assert options["grpc.max_metadata_size"] == 8192
    assert options["grpc.max_concurrent_streams"] >= 100
    assert all(isinstance(value, int) and value > 0 for value in options.values())
