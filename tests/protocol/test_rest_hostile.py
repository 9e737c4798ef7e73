"""Hostile and careless REST requests, in process: each is a clear 4xx checked before memory
is committed, in linear time; browsers get a Host allow-list, CORS only when asked, and JSON
only as JSON."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from ebb.protocol.asgi import apply_middleware
from ebb.protocol.browser import BrowserPolicy, browser_middleware
from ebb.protocol.budget import MemoryBudget
from ebb.protocol.rest import RestApp
from tests.protocol._inprocess import INFO, ListRecorder, fake_dispatcher

ROW = [1.0, 2.0, 3.0, 4.0]
INFER = "/v2/models/double/infer"
MAX_BODY = 4 << 20


def _body(**tensor: object) -> dict[str, object]:
    return {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": ROW,
                        **tensor}]}


def _app(budget: MemoryBudget | None = None, policy: BrowserPolicy | None = None) -> RestApp:
    app = RestApp(fake_dispatcher([]), INFO, ListRecorder(), MAX_BODY, {}, budget)
    if policy is None:
        return app
    return apply_middleware(app, browser_middleware(policy))  # type: ignore[return-value]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://ebb") as http:
        yield http


def _refused(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    message = response.json()["error"]
    for word in words:
        assert word in message


def _nested(depth: int, leaf: object) -> object:
    for _ in range(depth):
        leaf = [leaf]
    return leaf


def _deep_bytes(depth: int) -> bytes:
    return (b'{"inputs":[{"name":"INPUT0","datatype":"BYTES","shape":[1],"data":'
            + b"[" * depth + b'"x"' + b"]" * depth + b"}]}")


BAD_BODIES: dict[str, tuple[object, str]] = {
    "65 dimensions": (_body(shape=[1] * 65), "65 dimensions"),
    "BYTES nested 1000 deep": (_deep_bytes(1000), "nested more than 16"),
    "FP32 nested 60 deep": (_body(shape=[1], data=_nested(60, 1.0)), "INPUT0"),
    "null in FP32": (_body(data=[None, 1.0, 2.0, 3.0]), "finite"),
    "1e39 in FP32": (_body(data=[1e39, 1.0, 2.0, 3.0]), "finite"),
    "huge claimed shape": (_body(shape=[1, 400_000_000]), "claims 400000000 elements"),
    "empty tensor of huge dims": (_body(shape=[0, 2**40, 2**40], data=[]), "too large"),
    "output named twice": ({**_body(), "outputs": [{"name": "OUTPUT0"}] * 2},
                           "more than once"),
    "timeout parameter overflow": (
        orjson.dumps(_body())[:-1] + b',"parameters":{"timeout":' + b"9" * 19 + b"}}",
        "below 10^18"),
}


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("case", list(BAD_BODIES))
async def test_bad_bodies_are_400_naming_the_problem(client: httpx.AsyncClient,
                                                     case: str) -> None:
    body, words = BAD_BODIES[case]
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    _refused(await client.post(INFER, content=content), 400, words)


async def test_raw_bytes_claiming_a_huge_shape_are_refused_before_allocation(
        client: httpx.AsyncClient) -> None:
    header = orjson.dumps({"inputs": [{"name": "INPUT0", "datatype": "BYTES",
                                       "shape": [1, 400_000_000],
                                       "parameters": {"binary_data_size": 8}}]})
    started = time.perf_counter()
    response = await client.post(INFER, content=header + b"\x04\x00\x00\x00abcd",
                                 headers={"Inference-Header-Content-Length": str(len(header))})
    _refused(response, 400, "claims 400000000")
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("value", ["1_000", "9" * 400, "+5", "1e3"])
async def test_timeout_headers_must_be_short_plain_digits(client: httpx.AsyncClient,
                                                          value: str) -> None:
    response = await client.post(INFER, json=_body(), headers={"Ebb-Timeout-Ms": value})
    _refused(response, 400, "Ebb-Timeout-Ms")


async def test_many_requested_outputs_cost_linear_time(client: httpx.AsyncClient) -> None:
    """20,000 distinct unknown names used to be matched pairwise; now one pass refuses them."""
    outputs = [{"name": f"OUT{index}", "parameters": {"binary_data": True}}
               for index in range(20_000)]
    started = time.perf_counter()
    response = await client.post(INFER, content=orjson.dumps({**_body(), "outputs": outputs}))
    assert response.status_code == 400
    assert time.perf_counter() - started < 1.0


async def test_405_carries_allow(client: httpx.AsyncClient) -> None:
    for method, path, allow in (("DELETE", "/v2/health/live", "GET, HEAD"),
                                ("GET", INFER, "POST"),
                                ("PUT", "/v2/models/double", "GET, HEAD"),
                                ("GET", "/v1/models/double:predict", "POST"),
                                ("POST", "/v1/models/double", "GET, HEAD")):
        response = await client.request(method, path)
        assert (response.status_code, response.headers.get("allow")) == (405, allow), path


async def test_a_memory_budget_answers_503_with_retry_after_when_exceeded() -> None:
    budget = MemoryBudget(1000)
    held = budget.reserve(900)  # another request in flight holds most of it
    transport = httpx.ASGITransport(app=_app(budget))
    async with httpx.AsyncClient(transport=transport, base_url="http://ebb") as client:
        response = await client.post(INFER, json=_body())
        _refused(response, 503, "max-inflight-request-mb")
        assert response.headers["retry-after"] == "1"
        held.release()
        assert (await client.post(INFER, json=_body())).status_code == 200
    assert budget.held == 0


async def _browser(policy: BrowserPolicy, method: str, path: str, **kwargs: object
                   ) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(policy=policy))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8080") as http:
        return await http.request(method, path, **kwargs)  # type: ignore[arg-type]


async def test_on_loopback_only_loopback_host_names_are_answered() -> None:
    policy = BrowserPolicy.of("127.0.0.2", ["api.internal"], [])
    for host in ("localhost:8080", "127.0.0.1", "[::1]:9", "127.0.0.2:1", "API.internal:80"):
        response = await _browser(policy, "GET", "/v2", headers={"Host": host})
        assert response.status_code == 200, host
    response = await _browser(policy, "GET", "/v2", headers={"Host": "rebind.example:8080"})
    _refused(response, 421, "rebind.example")
    open_policy = BrowserPolicy.of("0.0.0.0", [], [])
    response = await _browser(open_policy, "GET", "/v2", headers={"Host": "any.example"})
    assert response.status_code == 200


async def test_json_from_a_web_page_must_say_so() -> None:
    policy = BrowserPolicy.of("127.0.0.1", [], [])
    page = {"Origin": "http://page.example"}
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {**page, **({"Content-Type": content_type} if content_type else {})}
        response = await _browser(policy, "POST", INFER, content=orjson.dumps(_body()),
                                  headers=headers)
        _refused(response, 415, "application/json")
    response = await _browser(policy, "POST", INFER, json=_body(), headers=page)
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers  # CORS is off by default
    no_origin = await _browser(policy, "POST", INFER, content=orjson.dumps(_body()),
                               headers={"Content-Type": "text/plain"})
    assert no_origin.status_code == 200  # curl and friends: JSON whatever its type


async def test_cors_answers_preflights_for_listed_origins_only() -> None:
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    off = await _browser(BrowserPolicy.of("127.0.0.1", [], []), "OPTIONS", INFER,
                         headers={"Origin": "http://app.example", **preflight})
    assert off.status_code == 405 and "access-control-allow-origin" not in off.headers
    policy = BrowserPolicy.of("127.0.0.1", [], ["http://app.example"])
    response = await _browser(policy, "OPTIONS", INFER,
                              headers={"Origin": "http://app.example", **preflight})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://app.example"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "content-type" in response.headers["access-control-allow-headers"]
    answer = await _browser(policy, "POST", INFER, json=_body(),
                            headers={"Origin": "http://app.example"})
    assert answer.headers["access-control-allow-origin"] == "http://app.example"
    other = await _browser(policy, "OPTIONS", INFER,
                           headers={"Origin": "http://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers
