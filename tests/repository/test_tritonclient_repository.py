"""tritonclient, NVIDIA's own client, unchanged, calling get_model_repository_index,
load_model, unload_model, get_inference_statistics and get_model_config over HTTP and gRPC
against a real ``ebb serve DIR``. The client runs in a subprocess (see the script's docstring).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningServer, start_server
from tests.repository.conftest import write_repository

HERE = Path(__file__).parent
Results = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = write_repository(tmp_path_factory.mktemp("triton-repository"))
    running = start_server(root, str(root))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def results(server: RunningServer) -> dict[str, Results]:
    process = subprocess.run(
        [sys.executable, str(HERE / "_triton_repository_client.py"),
         f"127.0.0.1:{server.http_port}", server.grpc_target],
        capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr
    parsed: dict[str, Results] = json.loads(process.stdout)
    return parsed


def value(results: Results, scenario: str) -> Any:
    result = results[scenario]
    assert "value" in result, f"{scenario} failed: {result.get('error')}"
    return result["value"]


def failure(results: Results, scenario: str) -> str:
    result = results[scenario]
    assert "error" in result, f"{scenario} should fail, got {result['value']}"
    message: str = result["error"]["message"]
    assert "Traceback" not in message and "internal" not in message.lower()
    return message


PROTOCOLS = ["http", "grpc"]


def _rows(index: Any) -> set[tuple[str, str, str]]:
    rows = index["models"] if isinstance(index, dict) else index
    return {(row["name"], row.get("version", ""), row["state"]) for row in rows}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_repository_index(results: dict[str, Results], protocol: str) -> None:
    assert _rows(value(results[protocol], "index")) == {
        ("double", "2", "READY"), ("double", "3", "READY"), ("scorer", "1", "READY"),
        ("slow", "1", "READY")}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_model_config(results: dict[str, Results], protocol: str) -> None:
    for scenario in ("config", "config_version"):
        config = value(results[protocol], scenario)
        config = config.get("config", config)  # gRPC wraps it in ModelConfigResponse
        assert config["name"] == "double"
        assert int(config["max_batch_size"]) == 8
        assert config["input"][0]["name"] == "INPUT0"
        assert config["input"][0]["data_type"] == "TYPE_FP32"
        assert [int(d) for d in config["input"][0]["dims"]] == [16]
        assert int(config["version_policy"]["latest"]["num_versions"]) == 2
    assert "nope" in failure(results[protocol], "config_unknown")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_statistics(results: dict[str, Results], protocol: str) -> None:
    assert value(results[protocol], "infer_latest") == "3"
    assert value(results[protocol], "infer_v2") == "2"
    stats = value(results[protocol], "stats_v2")["model_stats"]
    assert [(s["name"], s["version"]) for s in stats] == [("double", "2")]
    inference = stats[0]["inference_stats"]
    assert int(inference["success"]["count"]) >= 1
    assert int(inference["success"]["ns"]) > 0
    assert int(inference["queue"]["count"]) >= 1
    assert int(inference["compute_infer"]["count"]) >= 1
    batches = stats[0]["batch_stats"]
    assert batches and all(int(b["batch_size"]) >= 1 for b in batches)
    assert sum(int(b["compute_infer"]["count"]) for b in batches) == int(
        stats[0]["execution_count"])
    every = value(results[protocol], "stats_all")["model_stats"]
    assert {(s["name"], s["version"]) for s in every} >= {("double", "2"), ("double", "3")}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unload_and_load(results: dict[str, Results], protocol: str) -> None:
    outcome = results[protocol]
    value(outcome, "unload")
    after = outcome["ready_after_unload"]
    assert after.get("value") is False or "error" in after
    assert ("slow", "", "UNAVAILABLE") in _rows(value(outcome, "index_after_unload"))
    value(outcome, "load")
    assert value(outcome, "ready_after_load") is True
    assert "nope" in failure(outcome, "load_unknown")
    assert "nope" in failure(outcome, "unload_unknown")
