"""The REST app in process over a FakeDispatcher: routes, both codecs, error mapping, recording
and middleware, with no server process and no workers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import numpy as np
import orjson
import pytest

from ebb.core.dispatch import InferenceRecord
from ebb.core.errors import ModelError, Unavailable
from ebb.core.fake_dispatcher import FakeDispatcher
from ebb.protocol.asgi import ASGIApp, Middleware, Receive, Scope, Send, apply_middleware
from ebb.protocol.rest import RestApp
from tests.protocol._inprocess import DOUBLE, INFO, ListRecorder, fake_dispatcher

ROW = [1.0, 2.0, 3.0, 4.0]
BODY = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": ROW}]}
MAX_BODY = 4096


@dataclass
class Rest:
    fake: FakeDispatcher
    recorder: ListRecorder
    records: list[InferenceRecord]
    client: httpx.AsyncClient


async def _page(scope: Scope) -> tuple[int, bytes, bytes]:
    return 200, b"text/plain", b"a page"


def _app(fake: FakeDispatcher, recorder: ListRecorder) -> RestApp:
    return RestApp(fake, INFO, recorder, MAX_BODY, {"/page": _page})


def _client(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ebb")


@pytest.fixture
async def rest() -> AsyncIterator[Rest]:
    records: list[InferenceRecord] = []
    fake = fake_dispatcher(records)
    recorder = ListRecorder()
    async with _client(_app(fake, recorder)) as client:
        yield Rest(fake, recorder, records, client)


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message: str = response.json()["error"]
    assert "Traceback" not in message
    return message


async def test_health_and_server_metadata(rest: Rest) -> None:
    assert (await rest.client.get("/v2/health/live")).json() == {"live": True}
    assert (await rest.client.get("/v2/health/ready")).json() == {"ready": True}
    assert (await rest.client.get("/v2")).json() == {
        "name": "ebb", "version": "test", "extensions": ["binary_tensor_data", "parameters"]}
    rest.fake.not_ready.add("pair")
    response = await rest.client.get("/v2/health/ready")
    assert (response.status_code, response.json()) == (503, {"ready": False})


async def test_model_readiness_and_metadata(rest: Rest) -> None:
    rest.fake.not_ready.add("pair")
    assert (await rest.client.get("/v2/models/double/ready")).json() == {
        "name": "double", "ready": True}
    assert (await rest.client.get("/v2/models/pair/ready")).status_code == 503
    assert (await rest.client.get("/v2/models/double")).json() == DOUBLE.to_json()
    assert (await rest.client.get("/v2/models/double/versions/2")).json() == DOUBLE.to_json()
    assert "no version '9'" in _error(await rest.client.get("/v2/models/double/versions/9"), 404)
    assert "'nope' is not served" in _error(await rest.client.get("/v2/models/nope/ready"), 404)
    assert rest.recorder.calls == []


async def test_infer_json(rest: Rest) -> None:
    response = await rest.client.post("/v2/models/double/infer", json={**BODY, "id": "r1"})
    assert response.status_code == 200
    assert response.json() == {"model_name": "double", "model_version": "2", "id": "r1",
                               "outputs": [{"name": "OUTPUT0", "datatype": "FP32",
                                            "shape": [1, 4], "data": [2.0, 4.0, 6.0, 8.0]}]}
    assert rest.recorder.calls == [("double", "rest", 200)]
    assert rest.fake.requests[0].id == "r1"


async def test_infer_binary_extension_both_ways(rest: Rest) -> None:
    data = np.arange(8, dtype=np.float32).reshape(2, 4)
    header = orjson.dumps({
        "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [2, 4],
                    "parameters": {"binary_data_size": data.nbytes}}],
        "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": True}}]})
    response = await rest.client.post(
        "/v2/models/double/versions/1/infer", content=header + data.tobytes(),
        headers={"inference-header-content-length": str(len(header)),
                 "content-type": "application/octet-stream"})
    assert response.status_code == 200
    json_length = int(response.headers["inference-header-content-length"])
    document = orjson.loads(response.content[:json_length])
    assert document["outputs"][0]["parameters"] == {"binary_data_size": data.nbytes}
    answer = np.frombuffer(response.content[json_length:], np.float32).reshape(2, 4)
    assert answer.tolist() == (data * 2).tolist()
    assert rest.recorder.calls == [("double", "rest", 200)]


async def test_v1_status_and_predict(rest: Rest) -> None:
    assert (await rest.client.get("/v1/models/double")).json() == {"name": "double",
                                                                   "ready": True}
    response = await rest.client.post("/v1/models/double:predict", json={"instances": [ROW]})
    assert response.json() == {"predictions": [[2.0, 4.0, 6.0, 8.0]]}
    response = await rest.client.post("/v1/models/pair:predict", json={"instances": [ROW]})
    assert "the V1 protocol carries one" in _error(response, 400)
    assert "instances" in _error(await rest.client.post("/v1/models/double:predict",
                                                         json={"x": 1}), 400)
    assert rest.recorder.calls == [("double", "rest_v1", 200), ("pair", "rest_v1", 400),
                                   ("double", "rest_v1", 400)]


@pytest.mark.parametrize(("method", "path", "status"), [
    ("POST", "/v2/models/nope/infer", 404),
    ("POST", "/v2/models/double/versions/9/infer", 404),
    ("POST", "/v3/whatever", 404),
    ("GET", "/v3/whatever", 404),
    ("GET", "/v2/models/double/infer", 405),
    ("POST", "/v2/health/live", 405),
    ("POST", "/page", 405),
    ("GET", "/v1/models/double:predict", 405),
    ("POST", "/v1/models/double", 405),
    ("GET", "/v2/models/double/infer/more", 404),
])
async def test_route_errors(rest: Rest, method: str, path: str, status: int) -> None:
    _error(await rest.client.request(method, path, json=BODY), status)


async def test_client_errors_are_400_or_413_and_recorded(rest: Rest) -> None:
    post = rest.client.post
    assert "malformed JSON" in _error(await post("/v2/models/double/infer",
                                                 content=b'{"inputs": ['), 400)
    assert "non-negative integer" in _error(await post(
        "/v2/models/double/infer", json=BODY, headers={"ebb-timeout-ms": "soon"}), 400)
    assert "over the" in _error(await post("/v2/models/double/infer",
                                           content=b" " * (MAX_BODY + 1)), 413)
    assert "no output 'nah'" in _error(await post(
        "/v2/models/double/infer", json={**BODY, "outputs": [{"name": "nah"}]}), 400)
    assert [code for _, _, code in rest.recorder.calls] == [400, 400, 413, 400]


async def test_pages_are_served(rest: Rest) -> None:
    response = await rest.client.get("/page")
    assert (response.status_code, response.content) == (200, b"a page")
    assert response.headers["content-type"] == "text/plain"


async def test_dispatcher_errors_map_to_their_status(rest: Rest) -> None:
    rest.fake.error = Unavailable("queue full", retry_after_s=2.5)
    response = await rest.client.post("/v2/models/double/infer", json=BODY)
    assert _error(response, 503) == "queue full"
    assert response.headers["retry-after"] == "3"
    rest.fake.error = ModelError("model double failed: boom")
    assert "boom" in _error(await rest.client.post("/v2/models/double/infer", json=BODY), 500)
    assert rest.recorder.calls == [("double", "rest", 503), ("double", "rest", 500)]


async def test_hanging_dispatcher_answers_504_at_the_client_deadline(rest: Rest) -> None:
    rest.fake.hang = True
    response = await rest.client.post("/v2/models/double/infer", json=BODY,
                                      headers={"ebb-timeout-ms": "20"})
    _error(response, 504)
    assert rest.fake.requests[0].timeout_s == pytest.approx(0.02)
    assert rest.recorder.calls == [("double", "rest", 504)]
    assert rest.recorder.seconds[0] >= 0.02


@pytest.mark.parametrize(("path", "body", "protocol"), [
    ("/v2/models/double/infer", BODY, "rest"),
    ("/v1/models/double:predict", {"instances": [ROW]}, "rest_v1"),
])
async def test_unexpected_error_is_a_bare_500_recorded_as_500(
        rest: Rest, caplog: pytest.LogCaptureFixture, path: str, body: dict[str, object],
        protocol: str) -> None:
    rest.fake.error = RuntimeError("secret detail")
    with caplog.at_level(logging.ERROR, logger="ebb.rest"):
        response = await rest.client.post(path, json=body)
    assert response.json() == {"error": "internal server error"}
    assert response.status_code == 500
    assert rest.recorder.calls == [("double", protocol, 500)]
    assert "secret detail" in caplog.text


async def test_each_inference_gives_one_hook_record_with_its_status(rest: Rest) -> None:
    post = rest.client.post
    await post("/v2/models/double/infer", json=BODY)
    await post("/v1/models/double:predict", json={"instances": [ROW, ROW]})
    await post("/v2/models/double/infer", json={**BODY, "outputs": [{"name": "nah"}]})
    await post("/v2/models/double/versions/9/infer", json=BODY)
    rest.fake.error = ModelError("model double failed: boom")
    await post("/v2/models/double/infer", json=BODY)
    assert [record.status for record in rest.records] == [200, 200, 400, 404, 500]
    ok, v1, bad_output, bad_version, failed = rest.records
    assert ok.response is not None and ok.error is None and ok.batch_size == 1
    assert ok.request.model_name == "double" and ok.total_s >= ok.inference_s >= 0
    assert v1.response is not None and v1.response.outputs[0].shape == (2, 4)
    assert bad_output.response is None and "nah" in str(bad_output.error)
    assert bad_version.batch_size == 0
    assert isinstance(failed.error, ModelError) and failed.response is None


def _require_key(app: ASGIApp) -> ASGIApp:
    """Refuses any HTTP request without an ``x-key`` header."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (b"x-key", b"open") not in scope["headers"]:
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    return guarded


async def test_middleware_wraps_the_app() -> None:
    recorder = ListRecorder()
    app = apply_middleware(_app(fake_dispatcher([]), recorder), [_require_key])
    async with _client(app) as client:
        assert (await client.post("/v2/models/double/infer", json=BODY)).status_code == 401
        response = await client.post("/v2/models/double/infer", json=BODY,
                                     headers={"x-key": "open"})
        assert response.status_code == 200
    assert recorder.calls == [("double", "rest", 200)]


def _tag(name: str, seen: list[str]) -> Middleware:
    def wrap(app: ASGIApp) -> ASGIApp:
        async def tagged(scope: Scope, receive: Receive, send: Send) -> None:
            seen.append(name)
            await app(scope, receive, send)

        return tagged

    return wrap


async def test_first_middleware_is_outermost() -> None:
    seen: list[str] = []
    app = apply_middleware(_app(fake_dispatcher([]), ListRecorder()),
                           [_tag("outer", seen), _tag("inner", seen)])
    async with _client(app) as client:
        assert (await client.get("/v2/health/live")).status_code == 200
    assert seen == ["outer", "inner"]
