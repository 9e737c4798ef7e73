"""The REST app behind the gate, in process over a FakeDispatcher: 401/403/429 with their
headers and ``{"error": ...}`` bodies, open health checks, per-address limits without keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from ebb.core.clock import FakeClock
from ebb.core.dispatch import InferenceRecord
from ebb.protocol.asgi import ASGIApp, apply_middleware
from ebb.protocol.rest import RestApp
from ebb.security.middleware import gate_middleware
from ebb.security.ratelimit import Limit
from tests.protocol._inprocess import INFO, ListRecorder, fake_dispatcher
from tests.security._gate import SECRETS, ListRejections, bearer, make_gate

BODY = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [1] * 4}]}
INFER = "/v2/models/double/infer"


async def _page(scope: object) -> tuple[int, bytes, bytes]:
    return 200, b"text/plain", b"a page"


@dataclass
class Guarded:
    clock: FakeClock
    rejections: ListRejections
    client: httpx.AsyncClient


def _app(keys: bool, default: Limit | None) -> tuple[FakeClock, ListRejections, ASGIApp]:
    clock, rejections = FakeClock(), ListRejections()
    records: list[InferenceRecord] = []
    app = RestApp(fake_dispatcher(records), INFO, ListRecorder(), 1 << 20,
                  {"/metrics": _page, "/dashboard": _page, "/dashboard/data": _page})
    gate = make_gate(clock, rejections, keys, default)
    return clock, rejections, apply_middleware(app, [gate_middleware(gate)])


def _over(app: ASGIApp, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 5000)),
                             base_url="http://ebb")


def _client(keys: bool, default: Limit | None) -> tuple[Guarded, httpx.AsyncClient]:
    clock, rejections, app = _app(keys, default)
    client = _over(app, "127.0.0.1")
    return Guarded(clock, rejections, client), client


@pytest.fixture
async def rest() -> AsyncIterator[Guarded]:
    guarded, client = _client(keys=True, default=None)
    async with client:
        yield guarded


def _refused(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message: str = response.json()["error"]
    for secret in SECRETS.values():
        assert secret not in response.text
        assert secret[-20:] not in response.text
    assert "Traceback" not in response.text
    return message


async def test_health_and_the_dashboard_shell_need_no_key(rest: Guarded) -> None:
    assert (await rest.client.get("/v2/health/live")).status_code == 200
    assert (await rest.client.get("/v2/health/ready")).status_code == 200
    assert (await rest.client.get("/dashboard")).status_code == 200
    assert rest.rejections.calls == []


async def test_good_keys_pass(rest: Guarded) -> None:
    assert (await rest.client.post(INFER, json=BODY, headers=bearer("ci"))).status_code == 200
    lower = {"authorization": f"bearer  {SECRETS['ci']} "}
    assert (await rest.client.get("/v2/models/double", headers=lower)).status_code == 200
    assert (await rest.client.get("/metrics", headers=bearer("prom"))).status_code == 200
    assert (await rest.client.get("/dashboard/data", headers=bearer("root"))).status_code == 200
    assert (await rest.client.get("/v3/nothing", headers=bearer("prom"))).status_code == 404
    assert rest.rejections.calls == []


UNAUTHENTICATED = [
    ("no header", {}),
    ("empty header", {"authorization": ""}),
    ("Basic scheme", {"authorization": "Basic dXNlcjpwYXNz"}),
    ("Bearer without a key", {"authorization": "Bearer"}),
    ("Bearer and spaces", {"authorization": "Bearer    "}),
    ("two words", {"authorization": f"Bearer {SECRETS['ci']} extra"}),
    ("secret without scheme", {"authorization": SECRETS["ci"]}),
    ("unknown key id", {"authorization": "Bearer ebb_nobody.abcdefghijklmnopqrstuvwxyz"}),
    ("wrong secret for a known id", {"authorization": "Bearer ebb_ci.abcdefghijklmnopqrstu"}),
    ("a secret one character off", {"authorization": f"Bearer {SECRETS['ci'][:-1]}A"
                                     if not SECRETS["ci"].endswith("A") else
                                     f"Bearer {SECRETS['ci'][:-1]}B"}),
    ("revoked key", bearer("revoked")),
    ("a hash presented as the secret", {"authorization": "Bearer scrypt$16384$8$1$a$b"}),
    ("10 kB secret", {"authorization": "Bearer ebb_ci." + "x" * 10_000}),
    ("not Ebb's format", {"authorization": "Bearer hunter2"}),
]


@pytest.mark.parametrize(("case", "headers"), UNAUTHENTICATED, ids=[c for c, _ in UNAUTHENTICATED])
async def test_missing_or_bad_keys_get_401(rest: Guarded, case: str,
                                           headers: dict[str, str]) -> None:
    response = await rest.client.post(INFER, json=BODY, headers=headers)
    assert "key" in _refused(response, 401).lower()
    assert response.headers["www-authenticate"] == 'Bearer realm="ebb"'
    assert rest.rejections.calls == [("unauthenticated", "rest")]


async def test_two_authorization_headers_or_non_ascii_get_401(rest: Guarded) -> None:
    twice = [("authorization", f"Bearer {SECRETS['ci']}"),
             ("authorization", f"Bearer {SECRETS['ci']}")]
    _refused(await rest.client.post(INFER, json=BODY, headers=twice), 401)
    latin = [("authorization", "Bearer ebb_ci.\xe9t\xe9".encode("latin-1"))]
    _refused(await rest.client.post(INFER, json=BODY, headers=latin), 401)
    assert rest.rejections.calls == [("unauthenticated", "rest")] * 2


FORBIDDEN = [
    ("infer key reads /metrics", "GET", "/metrics", "ci", "lacks the 'observe' role"),
    ("infer key reads the dashboard data", "GET", "/dashboard/data", "ci", "'observe'"),
    ("infer key reads server metadata", "GET", "/v2", "ci", "'observe'"),
    ("observe key infers", "POST", INFER, "prom", "lacks the 'infer' role"),
    ("observe key reads model metadata", "GET", "/v2/models/double", "prom", "'infer'"),
    ("model-scoped key, other model", "POST", "/v2/models/pair/infer", "ci",
     "may not use model 'pair'"),
    ("model-scoped key, other model, versioned", "POST", "/v2/models/pair/versions/1/infer",
     "ci", "model 'pair'"),
    ("model-scoped key, other model, V1", "POST", "/v1/models/pair:predict", "ci", "'pair'"),
    ("model-scoped key, other model's readiness", "GET", "/v2/models/pair/ready", "ci",
     "'pair'"),
    ("infer key on the admin API", "POST", "/v2/repository/models/double/load", "ci",
     "lacks the 'admin' role"),
]


@pytest.mark.parametrize(("case", "method", "path", "key", "message"), FORBIDDEN,
                         ids=[c[0] for c in FORBIDDEN])
async def test_known_keys_without_the_role_or_model_get_403(
        rest: Guarded, case: str, method: str, path: str, key: str, message: str) -> None:
    response = await rest.client.request(method, path, json=BODY, headers=bearer(key))
    assert message in _refused(response, 403)
    assert "www-authenticate" not in response.headers
    assert rest.rejections.calls == [("forbidden", "rest")]


async def test_a_key_over_its_rate_gets_429_with_retry_after(rest: Guarded) -> None:
    for _ in range(2):  # burst 2
        assert (await rest.client.post(INFER, json=BODY, headers=bearer("slow"))).is_success
    response = await rest.client.post(INFER, json=BODY, headers=bearer("slow"))
    assert "over its rate limit of 1 requests/s" in _refused(response, 429)
    assert response.headers["retry-after"] == "1"
    assert (await rest.client.post(INFER, json=BODY, headers=bearer("ci"))).is_success
    rest.clock.advance(1.0)
    assert (await rest.client.post(INFER, json=BODY, headers=bearer("slow"))).is_success
    assert rest.rejections.calls == [("rate_limited", "rest")]


async def test_the_server_default_applies_to_keys_without_their_own() -> None:
    _, client = _client(keys=True, default=Limit(0.25, 1.0))
    async with client:
        assert (await client.get("/metrics", headers=bearer("prom"))).is_success
        response = await client.get("/metrics", headers=bearer("prom"))
        _refused(response, 429)
        assert response.headers["retry-after"] == "4"
        assert (await client.get("/v2/health/live")).is_success  # probes are never limited


async def test_without_keys_the_default_limit_is_per_client_address() -> None:
    _, rejections, app = _app(keys=False, default=Limit(1.0, 1.0))
    async with _over(app, "10.0.0.1") as one, _over(app, "10.0.0.2") as other, \
            _over(app, "10.0.0.3") as third:
        assert (await one.post(INFER, json=BODY)).is_success
        assert "this client is over" in _refused(await one.post(INFER, json=BODY), 429)
        assert (await other.post(INFER, json=BODY)).is_success
        # no keys: any Authorization header is ignored, even a malformed one
        twice = [("authorization", "x"), ("authorization", "y")]
        assert (await third.post(INFER, json=BODY, headers=twice)).is_success
    assert rejections.calls == [("rate_limited", "rest")]
