"""``ebb serve DIR``: several models, versions, and the repository, statistics and config
extensions over REST, against a real server with worker processes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.repository.conftest import SLOW_MS

ROW = [float(i) for i in range(16)]


def _infer(client: httpx.Client, path: str, rows: int = 1) -> httpx.Response:
    body = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [rows, 16],
                        "data": ROW * rows}]}
    return client.post(f"{path}/infer", json=body)


@pytest.fixture
def client(repository_server: RunningServer) -> Any:
    with httpx.Client(base_url=repository_server.url, timeout=30) as http:
        yield http


def test_every_model_is_served(client: httpx.Client) -> None:
    assert client.get("/v2/health/ready").status_code == 200
    for name in ("double", "slow", "scorer"):
        assert client.get(f"/v2/models/{name}/ready").json()["ready"] is True
    assert client.get("/v2/models/scorer").json()["platform"] == "onnxruntime_onnx"


def test_versions_follow_the_policy_and_requests_without_one_get_the_latest(
        client: httpx.Client) -> None:
    assert client.get("/v2/models/double").json()["versions"] == ["2", "3"]
    assert client.get("/v2/models/double/versions/2").json()["versions"] == ["2"]
    latest = _infer(client, "/v2/models/double")
    assert latest.status_code == 200
    assert latest.json()["model_version"] == "3"
    assert latest.json()["outputs"][0]["data"] == [2 * x for x in ROW]
    older = _infer(client, "/v2/models/double/versions/2")
    assert older.json()["model_version"] == "2"
    missing = _infer(client, "/v2/models/double/versions/1")
    assert missing.status_code == 404
    assert missing.json() == {"error": "model 'double' has no version '1' served; versions: 2, 3"}
    assert client.get("/v2/models/double/versions/1/ready").status_code == 404


def test_each_version_has_its_own_queue_in_the_metrics(client: httpx.Client) -> None:
    text = client.get("/metrics").text
    for key in ("double/2", "double/3", "slow", "scorer"):
        assert f'ebb_queue_depth{{model="{key}"}}' in text


def test_the_index_lists_each_served_version(client: httpx.Client) -> None:
    index = client.post("/v2/repository/index").json()
    assert {(row["name"], row.get("version"), row["state"]) for row in index} >= {
        ("double", "2", "READY"), ("double", "3", "READY"), ("scorer", "1", "READY"),
        ("slow", "1", "READY")}


def test_statistics_count_each_version(client: httpx.Client) -> None:
    before = client.get("/v2/models/double/versions/2/stats").json()["model_stats"][0]
    for _ in range(3):
        assert _infer(client, "/v2/models/double/versions/2").status_code == 200
    wrong = client.post("/v2/models/double/versions/2/infer", json={"inputs": [
        {"name": "INPUT0", "datatype": "FP64", "shape": [1, 16], "data": ROW}]})
    assert wrong.status_code == 400
    stats = client.get("/v2/models/double/versions/2/stats").json()["model_stats"]
    assert [(s["name"], s["version"]) for s in stats] == [("double", "2")]
    after = stats[0]["inference_stats"]
    assert after["success"]["count"] == before["inference_stats"]["success"]["count"] + 3
    assert after["fail"]["count"] == before["inference_stats"]["fail"]["count"] + 1
    assert after["queue"]["count"] >= 3 and after["compute_infer"]["ns"] > 0
    assert stats[0]["inference_count"] == before["inference_count"] + 3
    assert stats[0]["last_inference"] > 0
    batches = stats[0]["batch_stats"]  # by rows per batch: every execution in one of them
    assert batches and all(b["batch_size"] >= 1 and b["compute_infer"]["ns"] > 0 for b in batches)
    assert sum(b["compute_infer"]["count"] for b in batches) == stats[0]["execution_count"]
    assert [b["batch_size"] for b in batches] == sorted(b["batch_size"] for b in batches)
    every = client.get("/v2/models/stats").json()["model_stats"]
    assert {(s["name"], s["version"]) for s in every} == {
        ("double", "2"), ("double", "3"), ("scorer", "1"), ("slow", "1")}


def test_the_config_says_what_is_served(client: httpx.Client) -> None:
    config = client.get("/v2/models/double/config").json()
    assert config["name"] == "double"
    assert config["max_batch_size"] == 8
    assert config["version_policy"] == {"latest": {"num_versions": 2}}
    assert config["input"] == [{"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [16]}]
    assert config["dynamic_batching"] == {"max_queue_delay_microseconds": 1000}
    assert config["instance_group"][0]["count"] == 1


@pytest.mark.parametrize(("method", "path", "body", "status", "says"), [
    ("POST", "/v2/repository/models/nope/load", None, 404, "not in the model repository"),
    ("POST", "/v2/repository/models/nope/unload", None, 404, "is not loaded"),
    ("GET", "/v2/repository/index", None, 405, "takes POST"),
    ("POST", "/v2/repository/index", b"{", 400, "malformed JSON"),
    ("POST", "/v2/repository/index", b'{"ready": 1}', 400, "'ready' must be true or false"),
    ("POST", "/v2/repository/models/double/load", b'{"parameters": {"config": "{}"}}', 400,
     "not supported"),
    ("POST", "/v2/repository/nothing", None, 404, "no route"),
    ("GET", "/v2/models/nope/stats", None, 404, "'nope' is not served"),
    ("GET", "/v2/models/double/versions/7/config", None, 404, "no version '7'"),
    ("POST", "/v2/models/double/config", None, 405, "takes GET"),
])
def test_client_mistakes_are_clear_4xx(client: httpx.Client, method: str, path: str,
                                       body: bytes | None, status: int, says: str) -> None:
    response = client.request(method, path, content=body)
    assert response.status_code == status
    assert says in response.json()["error"]


def test_unload_answers_queued_and_running_requests_first(client: httpx.Client) -> None:
    with ThreadPoolExecutor(4) as pool:
        running = [pool.submit(_infer, client, "/v2/models/slow") for _ in range(3)]
        time.sleep(0.1)  # admitted: one runs, two wait (max_batch_size 1, one worker)
        began = time.monotonic()
        unloaded = client.post("/v2/repository/models/slow/unload")
        took = time.monotonic() - began
        answers = [future.result() for future in running]
    assert unloaded.status_code == 200
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert took >= 2 * SLOW_MS / 1000  # it waited for the queued two
    assert _infer(client, "/v2/models/slow").status_code == 404
    index = {row["name"]: row for row in client.post("/v2/repository/index").json()}
    assert index["slow"]["state"] == "UNAVAILABLE"
    ready_only = client.post("/v2/repository/index", json={"ready": True}).json()
    assert "slow" not in {row["name"] for row in ready_only}
    assert client.post("/v2/repository/models/slow/load").status_code == 200
    assert _infer(client, "/v2/models/slow").status_code == 200
    assert client.get("/v2/models/slow/stats").json()["model_stats"][0]["inference_count"] == 1


def test_several_models_given_one_by_one(tmp_path: Any) -> None:
    server = start_server(tmp_path, "builtin:double", "builtin:sleep?ms=1")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert _infer(http, "/v2/models/double").status_code == 200
            assert _infer(http, "/v2/models/sleep").status_code == 200
            assert "model double v1" in server.log() and "model sleep v1" in server.log()
    finally:
        server.stop()


def test_a_model_that_fails_to_load_is_a_clear_400(repository_server: RunningServer,
                                                   client: httpx.Client) -> None:
    root = repository_server.log_path.parent  # start_server logs into the repository root
    (root / "broken" / "1").mkdir(parents=True)
    (root / "broken" / "1" / "model.onnx").write_bytes(b"not an onnx graph")
    (root / "empty" / "1").mkdir(parents=True)
    try:
        broken = client.post("/v2/repository/models/broken/load")
        assert broken.status_code == 400
        assert broken.json()["error"].startswith("model broken failed to load: ")
        empty = client.post("/v2/repository/models/empty/load")
        assert empty.status_code == 400
        assert "holds no model file" in empty.json()["error"]
        index = {row["name"]: row for row in client.post("/v2/repository/index").json()}
        assert index["broken"]["state"] == "UNAVAILABLE" and index["broken"]["reason"]
        assert "holds no model file" in index["empty"]["reason"]
        assert client.get("/v2/health/ready").status_code == 200  # the others still serve
    finally:
        for name in ("broken", "empty"):
            for path in sorted((root / name).rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
            (root / name).rmdir()
