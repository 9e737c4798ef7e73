"""Open-loop load for ``bench/reliability.py``: each request is sent at its time whatever the
server does, and what its client saw is kept (status, time, whether a rejection carried
``Retry-After`` / ``grpc-retry-pushback-ms``), so rejections and lost requests can be counted.

REST goes over a small keep-alive HTTP/1.1 client on asyncio streams (it reads the headers,
which the project's load generator does not keep); gRPC over ``grpc.aio``.

    rest = RestTarget(port, "/v2/models/sleep/infer", body)
    shots = await open_loop(rest.send, rate=500, seconds=30)
    print(tally(shots).lost)
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol._generated import open_inference_pb2_grpc as pb_grpc

OK = frozenset({"200", "OK"})
REFUSED = frozenset({"503", "UNAVAILABLE"})
"""Refusals: the server did not take the request (a full queue, shutting down, REFUSED_STREAM)."""
CLIENT_TIMEOUT_S = 30.0

Send = Callable[[], Awaitable[tuple[str, bool]]]


def infer_body(values: Sequence[float]) -> bytes:
    data = ",".join(repr(float(v)) for v in values)
    return (b'{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,%d],"data":[%s]}]}'
            % (len(values), data.encode()))


def infer_message(model: str, values: Sequence[float]) -> Any:
    request = pb.ModelInferRequest(model_name=model)
    request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, len(values)]).contents \
        .fp32_contents.extend(values)
    return request


@dataclass(frozen=True)
class Shot:
    sent_s: float
    """When it was sent, from the start of the run."""
    seconds: float
    status: str
    """HTTP status as text, a gRPC status name, or ``transport: ...``."""
    hinted: bool
    """The answer carried Retry-After (REST) or grpc-retry-pushback-ms (gRPC)."""


class RestTarget:
    """One prepared POST, sent on kept-alive connections (one request per connection at once)."""

    def __init__(self, port: int, path: str, body: bytes,
                 headers: Sequence[tuple[str, str]] = ()) -> None:
        self._port = port
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
        self._request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                         f"{extra}\r\n").encode() + body
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def send(self) -> tuple[str, bool]:
        if self._idle:
            reader, writer = self._idle.pop()
        else:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self._port)
            except OSError as error:
                return f"transport: {type(error).__name__}", False
        try:
            writer.write(self._request)
            status, headers = await _read_answer(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            writer.close()
            return f"transport: {type(error).__name__}", False
        except BaseException:
            writer.close()
            raise
        if headers.get("connection") == "close":
            writer.close()
        else:
            self._idle.append((reader, writer))
        return status, "retry-after" in headers

    def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


async def _read_answer(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return lines[0][9:12], headers


class GrpcTarget:
    """One prepared ModelInfer on one channel (HTTP/2 multiplexes the calls)."""

    def __init__(self, target: str, message: Any) -> None:
        self.channel = grpc.aio.insecure_channel(target)
        self._stub = pb_grpc.GRPCInferenceServiceStub(self.channel)
        self._message = message

    async def send(self) -> tuple[str, bool]:
        try:
            await self._stub.ModelInfer(self._message, timeout=CLIENT_TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            trailers = dict(error.trailing_metadata() or ())
            return error.code().name, "grpc-retry-pushback-ms" in trailers
        return "OK", False

    async def close(self) -> None:
        await self.channel.close()


async def open_loop(send: Send, rate: float, seconds: float,
                    progress: Callable[[float], None] | None = None) -> list[Shot]:
    """``rate`` requests a second for ``seconds``, each sent at its time; every one awaited."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    shots: list[Shot] = []
    pending: set[asyncio.Task[None]] = set()

    async def one() -> None:
        began = loop.time()
        try:
            status, hinted = await asyncio.wait_for(send(), CLIENT_TIMEOUT_S)
        except TimeoutError:
            status, hinted = "client timeout", False
        shots.append(Shot(began - start, loop.time() - began, status, hinted))

    next_report = 1.0
    for index in range(int(rate * seconds)):
        due = start + index / rate
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        task = loop.create_task(one())
        pending.add(task)
        task.add_done_callback(pending.discard)
        if progress is not None and loop.time() - start >= next_report:
            progress(loop.time() - start)
            next_report += 1.0
    if pending:
        await asyncio.wait(pending)
    return shots


@dataclass(frozen=True)
class Tally:
    sent: int
    answered: int
    """Answered with success."""
    refused: int
    """Refused at once: 503 / UNAVAILABLE (the request was not taken)."""
    refused_unhinted: int
    """Of those, how many lacked Retry-After / grpc-retry-pushback-ms (an HTTP/2 REFUSED_STREAM
    is UNAVAILABLE without one)."""
    lost: int
    """Accepted (not refused) but not answered with success."""
    refuse_p50_ms: float
    refuse_p99_ms: float
    p50_ms: float
    p99_ms: float
    lost_kinds: tuple[tuple[str, int], ...]

    @property
    def accepted(self) -> int:
        return self.sent - self.refused


def percentile_ms(seconds: Sequence[float], percent: float) -> float:
    if not seconds:
        return float("nan")
    ordered = sorted(seconds)
    return 1000 * ordered[min(len(ordered) - 1, int(percent / 100 * len(ordered)))]


def tally(shots: Sequence[Shot]) -> Tally:
    ok = [s.seconds for s in shots if s.status in OK]
    refused = [s for s in shots if s.status in REFUSED]
    lost = Counter(s.status for s in shots if s.status not in OK and s.status not in REFUSED)
    return Tally(len(shots), len(ok), len(refused), sum(not s.hinted for s in refused),
                 sum(lost.values()), percentile_ms([s.seconds for s in refused], 50),
                 percentile_ms([s.seconds for s in refused], 99),
                 percentile_ms(ok, 50), percentile_ms(ok, 99), tuple(lost.most_common(4)))
