from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx

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
        if name not in ("model", "policy_options"):
            assert "--" + name.replace("_", "-") in flags
    assert "(default: 30.0)" in serve.format_help()
