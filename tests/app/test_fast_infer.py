"""The fast infer path (``ebb.app.fast_infer``) in a real ``HttpServer`` over a FakeDispatcher:
it answers exactly what the ASGI app answers (status, body, headers, recorded status), only
takes the requests it should, keeps pipelined answers in order, honours ``Connection: close``
and HTTP/1.0, records a body cut short as the ASGI path does, holds back a client that does
not read its answers, and survives a client that leaves mid-call."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson
import pytest

from ebb.app.fast_infer import FAST_MAX_BODY, FastInfer, infer_route
from ebb.app.http import HttpServer
from ebb.app.wire import WireLimits
from ebb.core.dispatch import InferenceRecord
from ebb.core.errors import Unavailable
from ebb.core.fake_dispatcher import FakeDispatcher
from ebb.protocol.asgi import Receive, Scope, Send
from ebb.protocol.browser import BrowserPolicy
from ebb.protocol.rest import RestApp
from tests.protocol._inprocess import INFO, ListRecorder, fake_dispatcher

ROW = [1.0, 2.0, 3.0, 4.0]
GOOD = orjson.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4],
                                 "data": ROW}]})


def test_infer_route() -> None:
    assert infer_route(b"/v2/models/double/infer") == ("double", "")
    assert infer_route(b"/v2/models/double/versions/3/infer?x=1") == ("double", "3")
    assert infer_route(b"/v2/models/double#/infer") is None
    for other in (b"/v2/models//infer", b"/v2/models/double/ready", b"/v2/models/a/b/infer",
                  b"/v2/models/a/versions//infer", b"/v2/models/a%2Fb/infer",
                  b"/v1/models/double:predict", b"/v2/models/double/infer/x",
                  "/v2/models/dé/infer".encode()):
        assert infer_route(other) is None, other


@dataclass
class Served:
    port: int
    fake: FakeDispatcher
    recorder: ListRecorder
    asgi_calls: list[str]
    server: HttpServer


async def _serve(fast: bool, send_buffer: int | None = None) -> Served:
    records: list[InferenceRecord] = []
    fake = fake_dispatcher(records)
    recorder = ListRecorder()
    rest = RestApp(fake, INFO, recorder, 1 << 20, {})
    asgi_calls: list[str] = []

    async def counted(scope: Scope, receive: Receive, send: Send) -> None:
        asgi_calls.append(scope["path"])
        await rest(scope, receive, send)

    policy = BrowserPolicy.of("127.0.0.1", (), ())
    sock = socket.create_server(("127.0.0.1", 0))
    if send_buffer is not None:  # accepted sockets inherit it: the kernel absorbs little
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    server = HttpServer(counted, None, WireLimits(), FastInfer(rest, policy) if fast else None)
    await server.start(sock)
    return Served(sock.getsockname()[1], fake, recorder, asgi_calls, server)


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Served, Served]]:
    fast, slow = await _serve(True), await _serve(False)
    try:
        yield fast, slow
    finally:
        await fast.server.stop()
        await slow.server.stop()


def _post(path: str, body: bytes, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}",
             *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    status_line, *lines = head.decode().rstrip("\r\n").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers["content-length"]))
    return int(status_line.split()[1]), headers, body


async def _exchange(port: int, raw: bytes, answers: int = 1
                    ) -> list[tuple[int, dict[str, str], bytes]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        return [await _answer(reader) for _ in range(answers)]
    finally:
        writer.close()


CASES = {
    "good": _post("/v2/models/double/infer", GOOD),
    "version": _post("/v2/models/double/versions/1/infer", GOOD),
    "no such version": _post("/v2/models/double/versions/9/infer", GOOD),
    "unknown model": _post("/v2/models/nope/infer", GOOD),
    "bad JSON": _post("/v2/models/double/infer", b"{bad"),
    "wrong shape": _post("/v2/models/double/infer", GOOD.replace(b"[1,4]", b"[2,4]")),
    "empty body": _post("/v2/models/double/infer", b""),
    "timeout header": _post("/v2/models/double/infer", GOOD, "Ebb-Timeout-Ms: 5000"),
    "bad timeout header": _post("/v2/models/double/infer", GOOD, "Ebb-Timeout-Ms: 9" * 30),
    "gzip": _post("/v2/models/double/infer", gzip.compress(GOOD), "Content-Encoding: gzip"),
    "page origin": _post("/v2/models/double/infer", GOOD, "Origin: http://a.example",
                         "Content-Type: application/json"),
    "other host": _post("/v2/models/double/infer", GOOD).replace(b"Host: 127.0.0.1",
                                                                  b"Host: evil.example"),
    "repeated timeout header": _post("/v2/models/double/infer", GOOD, "Ebb-Timeout-Ms: abc",
                                     "Ebb-Timeout-Ms: 5000"),
    "fragment in the path": _post("/v2/models/double#/infer", GOOD),
    "binary output": _post("/v2/models/double/infer", orjson.dumps(
        {"inputs": orjson.loads(GOOD)["inputs"],
         "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": True}}]})),
}
SLOW_CASES = {"gzip", "page origin", "other host", "repeated timeout header",
              "fragment in the path"}


async def test_answers_match_the_asgi_path(pair: tuple[Served, Served]) -> None:
    fast, slow = pair
    for case, raw in CASES.items():
        [got] = await _exchange(fast.port, raw)
        [want] = await _exchange(slow.port, raw)
        assert got == want, case
        assert got[0] != 500, case
    assert fast.recorder.calls == slow.recorder.calls
    assert len(fast.asgi_calls) == len(SLOW_CASES), fast.asgi_calls  # the rest never did


async def test_overload_is_refused_with_retry_after(pair: tuple[Served, Served]) -> None:
    fast, _ = pair
    fast.fake.error = Unavailable("queue full (1 requests waiting); retry later", 2.0)
    [(status, headers, body)] = await _exchange(fast.port, CASES["good"])
    assert status == 503 and headers["retry-after"] == "2"
    assert b"queue full" in body and fast.asgi_calls == []


async def test_large_bodies_take_the_asgi_path(pair: tuple[Served, Served]) -> None:
    fast, _ = pair
    padded = GOOD[:-1] + b',"pad":"' + b"x" * FAST_MAX_BODY + b'"}'
    [(status, _, _)] = await _exchange(fast.port, _post("/v2/models/double/infer", padded))
    assert status == 200 and fast.asgi_calls == ["/v2/models/double/infer"]


async def test_pipelined_answers_keep_their_order(pair: tuple[Served, Served]) -> None:
    fast, _ = pair
    raw = b"".join([
        _post("/v2/models/double/infer", GOOD),
        b"GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        _post("/v2/models/nope/infer", GOOD),
        _post("/v2/models/double/infer", GOOD, "Connection: close"),
    ])
    reader, writer = await asyncio.open_connection("127.0.0.1", fast.port)
    writer.write(raw)
    answers = [await _answer(reader) for _ in range(4)]
    assert [status for status, _, _ in answers] == [200, 200, 404, 200]
    assert orjson.loads(answers[0][2])["outputs"][0]["data"] == [2.0, 4.0, 6.0, 8.0]
    assert answers[1][2] == b'{"live":true}'
    assert answers[3][1]["connection"] == "close"
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed after the last answer
    writer.close()


async def test_http_1_0_is_answered_and_closed(pair: tuple[Served, Served]) -> None:
    fast, _ = pair
    raw = CASES["good"].replace(b"HTTP/1.1", b"HTTP/1.0")
    reader, writer = await asyncio.open_connection("127.0.0.1", fast.port)
    writer.write(raw)
    status, headers, _ = await _answer(reader)
    assert status == 200 and headers["connection"] == "close"
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    assert fast.asgi_calls == []


async def _hung_call(served: Served, timeout_ms: int
                     ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A call the model never answers, ended by its deadline; sent and under way."""
    served.fake.hang = True
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(_post("/v2/models/double/infer", GOOD, f"Ebb-Timeout-Ms: {timeout_ms}"))
    await asyncio.sleep(0.05)
    return reader, writer


async def test_a_client_leaving_mid_call_harms_nothing(pair: tuple[Served, Served]) -> None:
    fast, _ = pair
    _reader, writer = await _hung_call(fast, 200)
    writer.close()
    await asyncio.sleep(0.4)  # the call ends at its deadline with nobody to answer
    assert fast.recorder.calls[-1] == ("double", "rest", 504)
    fast.fake.hang = False
    [(status, _, _)] = await _exchange(fast.port, CASES["good"])
    assert status == 200


async def test_shutdown_closes_after_the_answer_in_flight(pair: tuple[Served, Served]) -> None:
    fast, _ = pair
    reader, writer = await _hung_call(fast, 300)
    fast.server.close_idle()  # the busy connection is kept until its answer
    status, headers, _ = await _answer(reader)
    assert status == 504 and headers["connection"] == "close"
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_a_body_cut_short_is_recorded_alike(pair: tuple[Served, Served]) -> None:
    for served in pair:
        _reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(_post("/v2/models/double/infer", GOOD)[:-10])  # the body's end never comes
        await asyncio.sleep(0.05)
        writer.close()
        await asyncio.sleep(0.1)
    fast, slow = pair
    assert fast.recorder.calls == slow.recorder.calls == [("double", "rest", 499)]


async def test_a_client_that_does_not_read_is_held_back() -> None:
    """Its answers wait in the transport's buffer: its next request is read only once the
    buffer drains (as ASGI's send waits), so the server's memory for it stays bounded."""
    fast = await _serve(True, send_buffer=8192)
    rows = [[1.0, 2.0, 3.0, 4.0]] * 1500  # ~30 KB answers, one request at a time
    big = _post("/v2/models/double/infer", orjson.dumps(
        {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1500, 4], "data": rows}]}))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", fast.port))
    largest = 0
    try:
        for sent in range(60):  # ~1.8 MB of answers if nothing held the client back
            await loop.sock_sendall(sock, big)
            for _ in range(10):  # wait for its answer, unless the server stopped reading
                if len(fast.recorder.calls) > sent:
                    break
                await asyncio.sleep(0.005)
            for connection in fast.server.server_state.connections:
                largest = max(largest, connection.transport.get_write_buffer_size())
    finally:
        sock.close()
        await fast.server.stop()
    assert 0 < largest < 500_000, largest


def test_remembered_routes_and_hosts_stay_bounded_and_right() -> None:
    rest = RestApp(fake_dispatcher([]), INFO, ListRecorder(), 1 << 20, {})
    fast = FastInfer(rest, BrowserPolicy.of("127.0.0.1", (), ()))
    for index in range(300):
        call = fast.accept(None, b"POST", f"/v2/models/m{index}/infer?q={index}".encode(),
                           [(b"host", f"127.0.0.1:{index}".encode()),
                            (b"content-length", b"2")], True)
        assert call is not None and call._name == f"m{index}"
    assert len(fast._routes) == len(fast._hosts) == 256
    for _ in range(2):  # a refused Host is remembered as refused
        assert fast.accept(None, b"POST", b"/v2/models/m1/infer?q=1",
                           [(b"host", b"evil.example"), (b"content-length", b"2")], True) is None
