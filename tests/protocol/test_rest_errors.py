"""Every client mistake over REST gets a 4xx with a JSON error body that names the problem."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import RunningServer, start_server

GOOD = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 16], "data": [1] * 16}]}


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message: str = response.json()["error"]
    assert "Traceback" not in message
    return message


@pytest.mark.parametrize(("path", "body", "status", "fragment"), [
    ("/v2/models/nope/infer", GOOD, 404, "'nope' is not served"),
    ("/v2/models/double/versions/9/infer", GOOD, 404, "no version '9'"),
    ("/v2/models/double/infer", {"inputs": [{**GOOD["inputs"][0], "datatype": "INT32"}]}, 400,
     "must be FP32"),
    ("/v2/models/double/infer", {"inputs": [{**GOOD["inputs"][0], "shape": [1, 8],
                                             "data": [1] * 8}]}, 400, "expects [-1, 16]"),
    ("/v2/models/double/infer", {"inputs": [{**GOOD["inputs"][0], "name": "other"}]}, 400,
     "needs input(s) INPUT0"),
    ("/v2/models/double/infer", {**GOOD, "outputs": [{"name": "nah"}]}, 400, "no output 'nah'"),
    ("/v2/models/double/infer", {"inputs": [{**GOOD["inputs"][0], "data": [1] * 15}]}, 400,
     "15 elements"),
])
def test_client_errors(client: httpx.Client, path: str, body: dict[str, object], status: int,
                       fragment: str) -> None:
    assert fragment in _error(client.post(path, json=body), status)


def test_malformed_json_is_400(client: httpx.Client) -> None:
    response = client.post("/v2/models/double/infer", content=b'{"inputs": [')
    assert "malformed JSON" in _error(response, 400)


def test_body_without_header_is_json_whatever_its_content_type(client: httpx.Client) -> None:
    response = client.post("/v2/models/double/infer", json=GOOD,
                           headers={"content-type": "application/octet-stream"})
    assert response.status_code == 200
    assert response.json()["outputs"][0]["data"] == [2.0] * 16


def test_bad_header_length_is_400(client: httpx.Client) -> None:
    response = client.post("/v2/models/double/infer", json=GOOD,
                           headers={"inference-header-content-length": "abc"})
    assert "non-negative integer" in _error(response, 400)


def test_wrong_method_and_unknown_route(client: httpx.Client) -> None:
    assert client.get("/v2/models/double/infer").status_code == 405
    _error(client.get("/v3/whatever"), 404)


def test_v1_predict_and_status(client: httpx.Client) -> None:
    assert client.get("/v1/models/double").json() == {"name": "double", "ready": True}
    response = client.post("/v1/models/double:predict", json={"instances": [[1.0] * 16]})
    assert response.json() == {"predictions": [[2.0] * 16]}
    assert "instances" in _error(client.post("/v1/models/double:predict", json={"x": 1}), 400)


def test_openapi_document_is_served(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert "/v2/models/{model_name}/infer" in document["paths"]
    assert {"/v2/repository/index", "/v2/repository/models/{model_name}/load",
            "/v2/repository/models/{model_name}/unload", "/v2/models/stats",
            "/v2/models/{model_name}/stats", "/v2/models/{model_name}/config",
            "/v2/models/{model_name}/versions/{model_version}/config"} <= set(document["paths"])


def test_a_wrong_method_on_a_repository_route_names_the_right_one(client: httpx.Client) -> None:
    response = client.get("/v2/repository/index")
    assert "takes POST" in _error(response, 405)
    assert response.headers["allow"] == "POST"
    assert client.head("/v2/models/double/config").status_code == 200  # GET routes take HEAD
    wrong = client.post("/v2/models/double/config")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, HEAD"


def test_body_over_the_limit_is_413(tmp_path: Path) -> None:
    server = start_server(tmp_path, "builtin:double", "--max-body-mb", "0.001")
    try:
        big = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [100, 16],
                           "data": [1.0] * 1600}]}
        response = httpx.post(f"{server.url}/v2/models/double/infer", json=big, timeout=10)
        assert "limit" in _error(response, 413)
    finally:
        server.stop()


async def _burst(server: RunningServer, count: int, headers: dict[str, str]) -> list[
        httpx.Response]:
    body = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [1] * 4}]}
    async with httpx.AsyncClient(base_url=server.url, timeout=30,
                                 limits=httpx.Limits(max_connections=count)) as http:
        return await asyncio.gather(*(http.post("/v2/models/sleep/infer", json=body,
                                                headers=headers) for _ in range(count)))


def test_full_queue_sheds_load_with_503_and_retry_after_and_deadline_504(tmp_path: Path
                                                                         ) -> None:
    server = start_server(tmp_path, "builtin:sleep?ms=200", "--max-queue-size", "2",
                          "--max-batch-size", "1")
    try:
        responses = asyncio.run(_burst(server, 12, {}))
        codes = sorted(r.status_code for r in responses)
        assert set(codes) == {200, 503}, codes
        rejected = [r for r in responses if r.status_code == 503]
        assert all(int(r.headers["retry-after"]) >= 1 for r in rejected)
        assert "queue full" in rejected[0].json()["error"]
        expired = asyncio.run(_burst(server, 3, {"ebb-timeout-ms": "50"}))
        assert 504 in {r.status_code for r in expired}
        metrics = httpx.get(f"{server.url}/metrics").text
        assert 'ebb_queue_rejections_total{model="sleep"}' in metrics
    finally:
        assert server.stop() == 0


def test_binary_round_trip_with_plain_http(client: httpx.Client) -> None:
    raw = np.arange(16, dtype=np.float32).tobytes()
    header = (b'{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],'
              b'"parameters":{"binary_data_size":64}}],"parameters":{"binary_data_output":true}}')
    response = client.post("/v2/models/double/infer", content=header + raw,
                           headers={"inference-header-content-length": str(len(header))})
    assert response.status_code == 200
    length = int(response.headers["inference-header-content-length"])
    values = np.frombuffer(response.content[length:], np.float32)
    assert values.tolist() == (np.arange(16) * 2).tolist()


def test_unsupported_content_encoding_is_named(client: httpx.Client) -> None:
    response = client.post("/v2/models/double/infer", json=GOOD,
                           headers={"content-encoding": "br"})
    assert "Content-Encoding 'br'" in _error(response, 400)
