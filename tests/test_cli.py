from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import start_server


def test_bad_flag_value_exits_2_with_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "ebb.cli", "serve", "builtin:double",
                             "--max-queue-size", "0"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "--max-queue-size" in result.stderr


def test_unknown_model_spec_is_a_clear_error() -> None:
    result = subprocess.run([sys.executable, "-m", "ebb.cli", "serve", "nothing.xyz"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "cannot tell how to serve" in result.stderr
    assert "Traceback" not in result.stderr


def test_explicit_port_in_use_is_never_changed(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "ebb.cli", "serve", "builtin:double",
                                 "--http-port", str(port), "--grpc-port", "0"],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot bind HTTP port {port}" in result.stderr


def test_demo_model_serves_and_scores_anomalies(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"EBB_CACHE_DIR": str(tmp_path / "cache")})
    try:
        assert "vibration_anomaly" in server.log()
        assert "curl -s" in server.log()
        import numpy as np

        from ebb.runtime.demo import faulty_windows, healthy_windows

        rng = np.random.default_rng(3)
        windows = np.concatenate([healthy_windows(4, rng), faulty_windows(4, rng)])
        response = httpx.post(f"{server.url}/v2/models/vibration_anomaly/infer", timeout=30, json={
            "inputs": [{"name": "vibration", "datatype": "FP32", "shape": [8, 64],
                        "data": windows.ravel().tolist()}]})
        outputs = {o["name"]: o["data"] for o in response.json()["outputs"]}
        assert outputs["is_anomaly"] == [False] * 4 + [True] * 4
    finally:
        assert server.stop() == 0


def test_bad_policy_knob_is_one_line_without_a_traceback() -> None:
    result = subprocess.run([sys.executable, "-m", "ebb.cli", "serve", "builtin:double",
                             "--max-workers", "2", "--policy", "kpa",
                             "--policy-option", "container_concurrency=abc"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == ("ebb: invalid --policy-option: knob container_concurrency of "
                             "policy 'kpa' takes a whole number, got 'abc'\n")


def test_help_shows_every_settings_flag_with_its_default() -> None:
    from ebb.cli import build_parser
    from ebb.config import ServeSettings

    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    flags = {option for action in serve._actions for option in action.option_strings}
    for name in ServeSettings.model_fields:
        if name not in ("model", "models", "policy_options"):  # positional, --policy-option
            assert "--" + name.replace("_", "-") in flags
    assert "(default: 30.0)" in serve.format_help()


def _ebb(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ebb.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_version() -> None:
    from ebb import __version__

    result = _ebb("--version")
    assert result.returncode == 0 and result.stdout == f"ebb {__version__}\n"


def test_bad_flag_type_is_one_line_without_the_usage_dump() -> None:
    for args in (["serve", "--slo-ms", "abc"], ["sim", "--synthetic", "spike", "--rate", "x"],
                 ["load", "http://127.0.0.1:1", "--slo-ms", "abc"]):
        result = _ebb(*args)
        assert result.returncode == 2, args
        assert result.stderr.count("\n") == 1, result.stderr
        assert "usage:" not in result.stderr
        assert "invalid float value: 'abc'" in result.stderr or (
            "invalid float value: 'x'" in result.stderr)


def test_sim_speaks_serves_vocabulary_and_keeps_old_spellings_with_a_warning(
        capsys: pytest.CaptureFixture[str]) -> None:
    from ebb.cli import main

    assert main(["sim", "--synthetic", "spike", "--rate", "20", "--duration", "10",
                 "--policy", "kpa", "--policy-option", "kpa.container_concurrency=2",
                 "--max-batch-delay-ms", "3", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["slo_ms"] == 100
    assert main(["sim", "--synthetic", "spike", "--rate", "20", "--duration", "10",
                 "--policy", "kpa", "--knob", "kpa.container_concurrency=2",
                 "--max-delay-ms", "3", "--json", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "--knob is deprecated; use --policy-option" in err
    assert "--max-delay-ms is deprecated; use --max-batch-delay-ms" in err
    serve = _subcommand("serve")
    assert "--max-delay-ms" not in _subcommand("sim").format_help()
    assert "--max-batch-delay-ms" in serve.format_help()


def test_bad_sim_knob_is_one_line() -> None:
    result = _ebb("sim", "--synthetic", "spike", "--policy", "kpa",
                  "--policy-option", "kpa.container_concurrency=abc")
    assert result.returncode == 2
    assert result.stderr == ("ebb sim: error: knob container_concurrency of policy 'kpa' "
                             "takes a whole number, got 'abc'\n")


def test_serve_policy_option_may_name_the_policy() -> None:
    result = _ebb("serve", "builtin:double", "--max-workers", "2", "--policy", "kpa",
                  "--policy-option", "hpa.target=2")
    assert result.returncode == 2
    assert result.stderr.startswith("ebb: invalid --policy-option: hpa.target sets a knob of "
                                    "policy 'hpa'")


def test_workers_zero_without_autoscaling_is_refused_in_one_line() -> None:
    result = _ebb("serve", "builtin:double", "--workers", "0")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "no worker would ever run" in result.stderr


def test_every_serve_flag_shows_its_default_in_help() -> None:
    serve = _subcommand("serve")
    for action in serve._actions:
        if action.option_strings and action.dest not in ("help", "config", "policy_options",
                                                          "cors_origin", "allowed_host"):
            assert "default" in (action.help or ""), action.option_strings


def test_grpc_port_clash_is_one_line_with_the_reason_before_any_model_load() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _ebb("serve", "builtin:double", "--http-port", "0", "--grpc-port", str(port))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (f"ebb: cannot bind gRPC port {port} on "
                                              "127.0.0.1: Address already in use")
    assert "add_port" not in result.stderr  # no raw grpc core line
    assert "ebb.workers" not in result.stderr  # refused before a worker loaded the model


def test_ignored_autoscaling_flags_are_warned_about(tmp_path: Path) -> None:
    server = start_server(tmp_path, "builtin:double", "--policy", "kpa", "--slo-ms", "50")
    try:
        assert "--policy, --slo-ms ignored: autoscaling is off" in server.log()
    finally:
        assert server.stop() == 0


def _subcommand(name: str) -> Any:
    from ebb.cli import build_parser

    return build_parser()._subparsers._group_actions[0].choices[name]  # type: ignore[union-attr]
