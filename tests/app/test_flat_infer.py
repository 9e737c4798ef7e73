"""The flat REST infer path (``ebb.app.flat_infer``): it takes only bodies the general path
accepts, decodes them to the same request with the same rows and batching signature, declines
everything else before anything is recorded or queued, and, in a real server, answers and
records exactly what the general path does."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ebb.app.flat_infer import FlatInfer, decode_common
from ebb.core.errors import InvalidInput
from ebb.core.types import ModelMetadata, TensorSpec
from ebb.protocol.budget import MemoryBudget
from ebb.protocol.codec import decode_infer_request
from ebb.serving.dispatcher import ModelContract
from tests.conftest import RunningServer, start_server


class _Served:
    """What ``decode_common`` reads of a ``ServedModel``: its contract."""

    def __init__(self, metadata: ModelMetadata) -> None:
        self.contract = ModelContract(metadata)


DOUBLE = _Served(ModelMetadata("double", (TensorSpec("INPUT0", "FP32", (-1, 16)),),
                               (TensorSpec("OUTPUT0", "FP32", (-1, 16)),), max_batch_size=32))
PAIR = _Served(ModelMetadata("pair", (TensorSpec("a", "INT64", (-1, 2)),
                                      TensorSpec("b", "FP64", (-1, 3))),
                             (TensorSpec("y", "FP64", (-1,)),), max_batch_size=8))
WHOLE = _Served(ModelMetadata("whole", (TensorSpec("x", "FP32", (2, 2)),),
                              (TensorSpec("y", "FP32", (2, 2)),)))


def _tensor(name: str, datatype: str, shape: list[Any], data: Any) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


def _body(*inputs: dict[str, Any], **extra: Any) -> bytes:
    return orjson.dumps({"inputs": list(inputs), **extra})


ROW = [float(i) for i in range(16)]
GOOD = _body(_tensor("INPUT0", "FP32", [1, 16], ROW))


def _general(body: bytes, served: _Served) -> Any:
    """The general path's decode and check: (inputs, rows, signature, id), or the error."""
    try:
        request = decode_infer_request(served.contract.name, "", body, None)
        rows, signature = served.contract.check(request)
    except InvalidInput as error:
        return error
    if request.outputs or request.parameters:
        return "not the common call"
    return request.inputs, rows, signature, request.id


def _same(body: bytes, served: _Served) -> None:
    """Whenever the flat decode takes a body, the general one gives the same request."""
    flat = decode_common(body, served)  # type: ignore[arg-type]
    if flat is None:
        return
    general = _general(body, served)
    assert not isinstance(general, InvalidInput | str), (body, general)
    inputs, rows, signature, request_id = flat
    want_inputs, want_rows, want_signature, want_id = general
    assert (rows, signature, request_id) == (want_rows, want_signature, want_id)
    assert [(t.name, t.datatype, t.parameters) for t in inputs] == [
        (t.name, t.datatype, t.parameters) for t in want_inputs]
    for got, want in zip(inputs, want_inputs, strict=True):
        assert got.data.dtype == want.data.dtype and got.data.shape == want.data.shape
        assert (got.data == want.data).all()


@pytest.mark.parametrize("body, served", [
    (GOOD, DOUBLE),
    (_body(_tensor("INPUT0", "FP32", [2, 16], [ROW, ROW])), DOUBLE),  # nested data
    (_body(_tensor("INPUT0", "FP32", [3, 16], ROW * 3), id="req-7"), DOUBLE),
    (_body(_tensor("b", "FP64", [2, 3], [1.5] * 6), _tensor("a", "INT64", [2, 2], [1, 2, 3, 4])),
     PAIR),
    (_body(_tensor("x", "FP32", [2, 2], [1, 2, 3, 4])), WHOLE),  # no batch dimension
])
def test_the_common_call_is_taken_and_decodes_as_the_general_path_does(
        body: bytes, served: _Served) -> None:
    assert decode_common(body, served) is not None  # type: ignore[arg-type]
    _same(body, served)


DECLINED = {
    "not JSON": b"{bad",
    "not an object": b"[1]",
    "no inputs": b"{}",
    "empty inputs": _body(),
    "parameters": _body(_tensor("INPUT0", "FP32", [1, 16], ROW), parameters={"x": 1}),
    "requested outputs": _body(_tensor("INPUT0", "FP32", [1, 16], ROW),
                               outputs=[{"name": "OUTPUT0"}]),
    "tensor parameters": _body({**_tensor("INPUT0", "FP32", [1, 16], ROW), "parameters": {}}),
    "binary data": _body({"name": "INPUT0", "datatype": "FP32", "shape": [1, 16],
                          "parameters": {"binary_data_size": 64}}),
    "id not a string": _body(_tensor("INPUT0", "FP32", [1, 16], ROW), id=7),
    "a datatype to cast": _body(_tensor("INPUT0", "FP64", [1, 16], ROW)),
    "unknown input": _body(_tensor("INPUT1", "FP32", [1, 16], ROW)),
    "wrong width": _body(_tensor("INPUT0", "FP32", [1, 15], ROW[:15])),
    "too few elements": _body(_tensor("INPUT0", "FP32", [2, 16], ROW)),
    "zero rows": _body(_tensor("INPUT0", "FP32", [0, 16], [])),
    "over max_batch_size": _body(_tensor("INPUT0", "FP32", [33, 16], ROW * 33)),
    "negative dimension": _body(_tensor("INPUT0", "FP32", [-1, 16], ROW)),
    "float dimension": _body(_tensor("INPUT0", "FP32", [1.0, 16], ROW)),
    "a null": _body(_tensor("INPUT0", "FP32", [1, 16], [None, *ROW[1:]])),
    "beyond FP32": _body(_tensor("INPUT0", "FP32", [1, 16], [1e39, *ROW[1:]])),
    "a string": _body(_tensor("INPUT0", "FP32", [1, 16], ["x", *ROW[1:]])),
    "repeated input": _body(_tensor("INPUT0", "FP32", [1, 16], ROW),
                            _tensor("INPUT0", "FP32", [1, 16], ROW)),
}


@pytest.mark.parametrize("name", DECLINED)
def test_anything_else_is_left_to_the_general_path(name: str) -> None:
    assert decode_common(DECLINED[name], DOUBLE) is None  # type: ignore[arg-type]


VAR2 = _Served(ModelMetadata("var2", (TensorSpec("x", "FP32", (-1, -1)),),
                             (TensorSpec("y", "FP32", (-1, -1)),)))
VAR3 = _Served(ModelMetadata("var3", (TensorSpec("x", "FP32", (-1, -1, -1)),),
                             (TensorSpec("y", "FP32", (-1, -1, -1)),), max_batch_size=8))


@pytest.mark.parametrize("served, shape, data", [
    (VAR2, [0, 2**50], []),  # no elements, but a shape numpy cannot index
    (VAR2, [0, 2**63 - 1], []),  # numpy itself refuses it
    (VAR3, [1, 0, 2**50], [[]]),
    (VAR3, [0, 2**63], []),
])
def test_shapes_the_general_path_calls_too_large_are_declined(
        served: _Served, shape: list[int], data: Any) -> None:
    """Found in review: a 0 dimension does not excuse huge others (``ElementAllowance``)."""
    body = _body(_tensor("x", "FP32", shape, data))
    assert decode_common(body, served) is None  # type: ignore[arg-type]
    assert isinstance(_general(body, served), InvalidInput)


class _Direct:
    def __init__(self, served: _Served) -> None:
        self.served = served

    def direct(self, name: str, version: str = "") -> _Served:
        return self.served


async def test_a_full_memory_budget_is_left_to_the_general_path_and_counted_once() -> None:
    budget = MemoryBudget(100 * len(GOOD))
    held = budget.reserve(100 * len(GOOD) - 1)
    flat = FlatInfer(_Direct(DOUBLE), None, budget)  # type: ignore[arg-type]
    assert await flat.answer("double", "", GOOD, None) is None
    assert (budget.refused, budget.held) == (0, held.size)  # the general path counts it


def test_inputs_of_different_batch_sizes_are_declined() -> None:
    body = _body(_tensor("a", "INT64", [1, 2], [1, 2]), _tensor("b", "FP64", [2, 3], [1.0] * 6))
    assert decode_common(body, PAIR) is None  # type: ignore[arg-type]
    assert isinstance(_general(body, PAIR), InvalidInput)


_scalars = st.one_of(st.integers(-3, 40), st.floats(allow_nan=False, width=32), st.none(),
                     st.booleans(), st.text(max_size=3))


@settings(max_examples=300, deadline=None)
@given(rows=st.integers(0, 3), width=st.sampled_from([15, 16, 17]), datatype=st.sampled_from(
    ["FP32", "FP64", "INT32", "BOOL", "BYTES"]), shape=st.one_of(st.none(), st.lists(
        st.one_of(st.integers(-1, 40), st.floats(0, 3)), max_size=3)),
    mangle=st.lists(st.tuples(st.integers(0, 60), _scalars), max_size=2),
    extra=st.dictionaries(st.sampled_from(["id", "parameters", "outputs", "x"]), _scalars,
                          max_size=1))
def test_whatever_the_flat_decode_takes_the_general_decode_takes_alike(
        rows: int, width: int, datatype: str, shape: list[Any] | None,
        mangle: list[tuple[int, Any]], extra: dict[str, Any]) -> None:
    data: list[Any] = [float(i) for i in range(rows * width)]
    for index, value in mangle:
        if index < len(data):
            data[index] = value
    body = _body(_tensor("INPUT0", datatype, shape if shape is not None else [rows, width], data),
                 **extra)
    _same(body, DOUBLE)


# --- in a real server: the flat path against the general one (``--asgi-infer``) ---

@pytest.fixture(scope="module")
def general_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(tmp_path_factory.mktemp("general"), "builtin:double", "--workers", "2",
                          "--max-batch-delay-ms", "1", "--asgi-infer")
    yield server
    server.stop()


def _exchange(port: int, path: str, body: bytes) -> tuple[bytes, bytes]:
    """(status line, body) of one POST on its own connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     f"application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        head, _, rest = answer.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")))
        while len(rest) < length:
            rest += sock.recv(65536)
        return head.split(b"\r\n")[0], rest


LIVE = {
    "good": ("/v2/models/double/infer", GOOD),
    "with an id": ("/v2/models/double/infer", _body(_tensor("INPUT0", "FP32", [2, 16],
                                                            ROW * 2), id="a-1")),
    "version 1": ("/v2/models/double/versions/1/infer", GOOD),
    "no version 9": ("/v2/models/double/versions/9/infer", GOOD),
    "unknown model": ("/v2/models/nope/infer", GOOD),
    "FP64 cast refused": ("/v2/models/double/infer", _body(_tensor("INPUT0", "FP64", [1, 16],
                                                                   ROW))),
    "beyond FP32": ("/v2/models/double/infer", DECLINED["beyond FP32"]),
    "over max_batch_size": ("/v2/models/double/infer", _body(_tensor(
        "INPUT0", "FP32", [400, 16], ROW * 400))),
    "requested output": ("/v2/models/double/infer", DECLINED["requested outputs"]),
    "bad JSON": ("/v2/models/double/infer", b"{bad"),
}


def _get(server: RunningServer, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        text = b""
        while chunk := sock.recv(65536):
            text += chunk
    return text.partition(b"\r\n\r\n")[2]


def _counted(server: RunningServer) -> dict[str, float]:
    """ebb_requests_total for double over REST by status code, and the statistics
    extension's success and failure counts (the dispatcher's hooks)."""
    text = _get(server, "/metrics")
    stats = orjson.loads(_get(server, "/v2/models/double/stats"))["model_stats"][0]
    counts = {"stats success": float(stats["inference_stats"]["success"]["count"]),
              "stats fail": float(stats["inference_stats"]["fail"]["count"])}
    for line in text.decode().splitlines():
        if line.startswith("ebb_requests_total{") and 'model="double"' in line \
                and 'protocol="rest"' in line:
            code = line.split('code="')[1].split('"')[0]
            counts[code] = float(line.rsplit(" ", 1)[1])
    return counts


def test_a_real_server_answers_and_records_as_the_general_path_does(
        double_server: RunningServer, general_server: RunningServer) -> None:
    before = (_counted(double_server), _counted(general_server))
    answered = 0
    for name, (path, body) in LIVE.items():
        flat = _exchange(double_server.http_port, path, body)
        general = _exchange(general_server.http_port, path, body)
        assert flat == general, name
        answered += flat[0].endswith(b" 200 OK")
    after = (_counted(double_server), _counted(general_server))
    deltas = [{code: count - seen.get(code, 0) for code, count in now.items()
               if count != seen.get(code, 0)} for seen, now in zip(before, after, strict=True)]
    assert deltas[0] == deltas[1]
    assert deltas[0]["200"] == deltas[0]["stats success"] == answered >= 4
