"""Property-based fuzzing of gRPC ModelInfer against a real server: random messages (shapes,
datatypes, contents, raw bytes, outputs, parameters) and random bytes that are not a message.
No answer may be INTERNAL or UNKNOWN, and the server stays healthy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ebb.core.datatypes import DATATYPES
from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol._generated import open_inference_pb2_grpc as pb_grpc
from tests.conftest import RunningServer

METHOD = "/inference.GRPCInferenceService/ModelInfer"
SERVER_FAULTS = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
EXAMPLES = 150
TRIED: dict[str, int] = {"messages": 0, "raw bytes": 0}

_dims = st.one_of(st.integers(0, 20), st.sampled_from([2**31, 2**40, 2**62, 400_000_000]))
_names = st.sampled_from(["INPUT0", "INPUT1", "", "x" * 300])


@st.composite
def _tensor(draw: st.DrawFn, message: Any) -> None:
    tensor = message.inputs.add(
        name=draw(_names),
        datatype=draw(st.sampled_from([*DATATYPES, "FP8", "", "bytes"])),
        shape=draw(st.lists(_dims, max_size=20)))
    contents = tensor.contents
    choice = draw(st.integers(0, 5))
    if choice == 0:
        contents.fp32_contents.extend(draw(st.lists(st.floats(width=32), max_size=40)))
    elif choice == 1:
        contents.int64_contents.extend(draw(st.lists(st.integers(-2**63, 2**63 - 1),
                                                     max_size=40)))
    elif choice == 2:
        contents.bytes_contents.extend(draw(st.lists(st.binary(max_size=20), max_size=40)))
    elif choice == 3:
        contents.bool_contents.extend(draw(st.lists(st.booleans(), max_size=40)))
    elif choice == 4:
        contents.uint_contents.extend(draw(st.lists(st.integers(0, 2**32 - 1), max_size=40)))
    if draw(st.booleans()):
        tensor.parameters["binary_data_size"].int64_param = draw(st.integers(-5, 100))


@st.composite
def _requests(draw: st.DrawFn) -> bytes:
    message = pb.ModelInferRequest(model_name=draw(st.sampled_from(["double", "nope", ""])),
                                   id=draw(st.text(max_size=10)))
    for _ in range(draw(st.integers(0, 3))):
        draw(_tensor(message))
    for _ in range(draw(st.integers(0, 3))):
        message.raw_input_contents.append(draw(st.binary(max_size=200)))
    for _ in range(draw(st.integers(0, 3))):
        message.outputs.add(name=draw(st.sampled_from(["OUTPUT0", "OUTPUT1", ""])))
    if draw(st.booleans()):
        message.parameters["timeout"].int64_param = draw(st.integers(-2**63, 2**63 - 1))
    return message.SerializeToString()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def channel(double_server: RunningServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(double_server.grpc_target) as opened:
        yield opened


def _call(channel: grpc.Channel, payload: bytes) -> grpc.StatusCode:
    call = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
    try:
        call(payload, timeout=10)
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


_FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow])


@_FUZZ
@given(payload=_requests())
def test_random_model_infer_messages_are_never_a_server_fault(channel: grpc.Channel,
                                                             payload: bytes) -> None:
    TRIED["messages"] += 1
    assert _call(channel, payload) not in SERVER_FAULTS


@_FUZZ
@given(payload=st.binary(min_size=1, max_size=300))
def test_random_bytes_are_invalid_argument(channel: grpc.Channel, payload: bytes) -> None:
    TRIED["raw bytes"] += 1
    assert _call(channel, payload) not in SERVER_FAULTS


def test_the_server_is_healthy_after_the_fuzz(channel: grpc.Channel,
                                              double_server: RunningServer) -> None:
    stub = pb_grpc.GRPCInferenceServiceStub(channel)
    assert stub.ServerReady(pb.ServerReadyRequest(), timeout=10).ready
    request = pb.ModelInferRequest(model_name="double")
    request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 16]).contents.fp32_contents \
        .extend([1.0] * 16)
    assert list(stub.ModelInfer(request, timeout=10).outputs[0].contents.fp32_contents) == \
        [2.0] * 16
    log = double_server.log()
    assert "Traceback" not in log
    assert log.count("client error (malformed protobuf)") <= 2  # one line per 10 s
    print(f"gRPC fuzz: {TRIED} inputs tried")
