"""The hostile requests of ``bench/reliability.py``, one function per attack on a running
``builtin:chaos?hang_on=7&crash_on=13`` server. Each returns what it tried and what came back;
``_reliability_hostile`` runs them while a normal client measures its latency.

Statuses are what the issue asks for: client mistakes are 4xx / INVALID_ARGUMENT (never 5xx,
INTERNAL or UNKNOWN), a hung model's request is 504 / DEADLINE_EXCEEDED by its deadline + 1 s,
a poison pill is 500 / INTERNAL without a retry hint, and cut-off connections get 408 / 431 or
are closed.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc
from _reliability_load import infer_body, infer_message

from ebb.protocol._generated import open_inference_pb2_grpc as pb_grpc
from tests.app._attack import read_status

INFER = "/v2/models/chaos/infer"
GRPC_METHOD = "/inference.GRPCInferenceService/ModelInfer"
SERVER_FAULTS = frozenset({"500", "502", "503", "INTERNAL", "UNKNOWN", "transport"})
HANG, CRASH = 7.0, 13.0
DEADLINE_S = 1.0


@dataclass
class Outcome:
    tried: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    faults: str = "-"
    wrong: list[str] = field(default_factory=list)
    """Answers that were not what the attack should get."""
    excused: frozenset[str] = frozenset()
    """Server-fault statuses this attack must get (a poison pill's 500)."""

    def expect(self, status: str, allowed: Iterable[str], what: str) -> None:
        self.tried += 1
        self.statuses[status] += 1
        if status not in allowed:
            self.wrong.append(f"{what}: {status}")

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items()
                   if status.split(":")[0] in SERVER_FAULTS and status not in self.excused)


def post(port: int, path: str, body: bytes, headers: dict[str, str] | None = None,
         timeout_s: float = 30) -> tuple[str, dict[str, str], float]:
    """(status, lower-cased headers, seconds) of one POST on a new connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    began = time.monotonic()
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json",
                                                **(headers or {})})
        response = connection.getresponse()
        response.read()
        return (str(response.status), {k.lower(): v for k, v in response.getheaders()},
                time.monotonic() - began)
    except (OSError, http.client.HTTPException) as error:
        return f"transport: {type(error).__name__}", {}, time.monotonic() - began
    finally:
        connection.close()


def grpc_call(target: str, message: Any, timeout_s: float = 30) -> tuple[str, str, float]:
    """(status name, pushback trailer or '', seconds) of one ModelInfer."""
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        began = time.monotonic()
        try:
            stub.ModelInfer(message, timeout=timeout_s)
        except grpc.RpcError as error:
            trailers = dict(error.trailing_metadata() or ())
            return (error.code().name, str(trailers.get("grpc-retry-pushback-ms", "")),
                    time.monotonic() - began)
        return "OK", "", time.monotonic() - began


def hung_model(port: int, target: str, repeat: int, metric: Callable[[], float]) -> Outcome:
    """A request whose batch never finishes, one at a time (REST, then gRPC, in turn)."""
    outcome = Outcome()
    kills_before = metric()
    slowest = 0.0
    for index in range(repeat):
        if index % 2 == 0:
            status, _, seconds = post(port, INFER, infer_body([HANG, 0.0]),
                                      {"Ebb-Timeout-Ms": str(int(DEADLINE_S * 1000))})
            outcome.expect(status, {"504"}, "hung REST")
        else:
            status, _, seconds = grpc_call(target, infer_message("chaos", [HANG, 0.0]),
                                           DEADLINE_S)
            outcome.expect(status, {"DEADLINE_EXCEEDED"}, "hung gRPC")
        slowest = max(slowest, seconds)
        if seconds > DEADLINE_S + 1:
            outcome.wrong.append(f"hung request answered after {seconds:.2f} s")
    time.sleep(2.0)  # the target: service back to normal within 2 s (the normal client sees it)
    outcome.faults = (f"{repeat} hung batches, {metric() - kills_before:.0f} workers killed, "
                      f"answered by {slowest:.2f} s (deadline {DEADLINE_S:g} s)")
    return outcome


def poison(port: int, target: str, repeat: int, metric: Callable[[], float]) -> Outcome:
    """A request that makes its worker exit; it alone fails, without inviting a retry."""
    outcome = Outcome(excused=frozenset({"500", "INTERNAL"}))
    counted_before = metric()
    for index in range(repeat):
        if index % 2 == 0:
            status, headers, _ = post(port, INFER, infer_body([CRASH, 0.0]))
            hinted = "retry-after" in headers
        else:
            status, pushback, _ = grpc_call(target, infer_message("chaos", [CRASH, 0.0]))
            hinted = bool(pushback)
        outcome.tried += 1
        outcome.statuses[status] += 1
        if status not in ("500", "INTERNAL") or hinted:
            outcome.wrong.append(f"poison: {status}{' with a retry hint' if hinted else ''}")
    outcome.faults = f"{metric() - counted_before:.0f} workers crashed (poison)"
    return outcome


def _raw_bytes_claim() -> tuple[bytes, dict[str, str]]:
    header = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "BYTES",
                                     "shape": [1, 400_000_000],
                                     "parameters": {"binary_data_size": 8}}]}).encode()
    return header + b"\x04\x00\x00\x00abcd", {"Inference-Header-Content-Length": str(len(header))}


def _json_input(shape: list[int], data: str) -> bytes:
    return (b'{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":%s,"data":%s}]}'
            % (json.dumps(shape).encode(), data.encode()))


def huge_shapes(port: int, target: str, repeat: int) -> Outcome:
    """Shapes that claim far more than the request carries; a body claiming 200 MB."""
    outcome = Outcome()
    raw, raw_headers = _raw_bytes_claim()
    cases = [("raw BYTES [1, 4e8]", raw, raw_headers),
             ("FP32 [1, 4e8] with 16 values", _json_input([1, 400_000_000], str([1.0] * 16)), {}),
             ("65 dimensions", _json_input([1] * 65, "[1.0]"), {})]
    grpc_claim = infer_message("chaos", [1.0] * 4)
    grpc_claim.inputs[0].ClearField("contents")
    grpc_claim.inputs[0].shape[:] = [1, 400_000_000]
    grpc_claim.raw_input_contents.append(b"\x00" * 16)
    for _ in range(repeat):
        for what, body, headers in cases:
            outcome.expect(post(port, INFER, body, headers)[0], {"400"}, what)
        outcome.expect(grpc_call(target, grpc_claim)[0], {"INVALID_ARGUMENT"}, "gRPC [1, 4e8]")
        outcome.expect(_claimed_body(port, 200 * 2**20), {"413"}, "body claiming 200 MB")
    return outcome


def _claimed_body(port: int, length: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST " + INFER.encode() + b" HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: application/json\r\nContent-Length: "
                     + str(length).encode() + b"\r\n\r\n{")
        status = read_status(sock)
    return "closed" if status is None else str(status)


def deep_and_odd(port: int, repeat: int) -> Outcome:
    """Nesting 1000 deep, numeric headers of 300 digits or with underscores, null and 1e39."""
    outcome = Outcome()
    deep = (b'{"inputs":[{"name":"INPUT0","datatype":"BYTES","shape":[1],"data":'
            + b"[" * 1000 + b'"x"' + b"]" * 1000 + b"}]}")
    plain = infer_body([1.0, 2.0])
    cases = [("BYTES nested 1000 deep", deep, {}),
             ("FP32 nested 1000 deep", _json_input([1, 1], "[" * 1000 + "1" + "]" * 1000), {}),
             ("timeout of 300 digits", plain, {"Ebb-Timeout-Ms": "9" * 300}),
             ("timeout 1_000", plain, {"Ebb-Timeout-Ms": "1_000"}),
             ("FP32 null", _json_input([1, 2], "[null, 1.0]"), {}),
             ("FP32 1e39", _json_input([1, 2], "[1e39, 1.0]"), {})]
    for _ in range(repeat):
        for what, body, headers in cases:
            outcome.expect(post(port, INFER, body, headers)[0], {"400"}, what)
    return outcome


def bad_grpc_bytes(target: str, repeat: int) -> Outcome:
    """Bytes that are not a protobuf message, straight onto the ModelInfer method."""
    outcome = Outcome()
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(GRPC_METHOD, request_serializer=None,
                                   response_deserializer=None)
        for index in range(repeat):
            payload = os.urandom(1 + index % 300)
            try:
                call(payload, timeout=10)
                status = "OK"
            except grpc.RpcError as error:
                status = error.code().name
            outcome.expect(status, {"INVALID_ARGUMENT", "NOT_FOUND", "OK"}, "random bytes")
    return outcome
