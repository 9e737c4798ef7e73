from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest

from ebb.core.errors import InvalidInput
from ebb.core.types import InferResponse, Tensor
from ebb.protocol.codec import decode_infer_request, encode_infer_response
from ebb.protocol.raw import tensor_from_raw, tensor_to_raw


def _body(**document: object) -> bytes:
    return orjson.dumps(document)


def test_nested_and_flat_data_decode_to_the_same_array() -> None:
    flat = _body(inputs=[{"name": "x", "datatype": "INT32", "shape": [2, 2], "data": [1, 2, 3, 4]}])
    nested = _body(inputs=[{"name": "x", "datatype": "INT32", "shape": [2, 2],
                            "data": [[1, 2], [3, 4]]}])
    for body in (flat, nested):
        request = decode_infer_request("m", "", body, None)
        assert request.inputs[0].data.dtype == np.int32
        assert request.inputs[0].data.tolist() == [[1, 2], [3, 4]]


def test_binary_inputs_follow_the_json_header() -> None:
    raw = np.arange(6, dtype=np.float32).tobytes()
    header = _body(id="7", inputs=[{"name": "x", "datatype": "FP32", "shape": [2, 3],
                                    "parameters": {"binary_data_size": len(raw)}}],
                   outputs=[{"name": "y", "parameters": {"binary_data": True}}])
    request = decode_infer_request("m", "", header + raw, len(header))
    assert request.id == "7"
    assert request.inputs[0].data.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_bytes_tensor_raw_round_trip() -> None:
    data = np.array([b"ab", b"", "ünï".encode()], dtype=object)
    raw = tensor_to_raw(data, "BYTES")
    assert raw[:4] == struct.pack("<I", 2)
    assert tensor_from_raw(raw, "BYTES", (3,), "s").tolist() == data.tolist()


@pytest.mark.parametrize(("body", "message"), [
    (b"{not json", "malformed JSON"),
    (b"[]", "JSON object"),
    (_body(inputs=[]), "non-empty 'inputs'"),
    (_body(inputs=[{"datatype": "FP32", "shape": [1], "data": [1]}]), "needs a 'name'"),
    (_body(inputs=[{"name": "x", "datatype": "FP99", "shape": [1], "data": [1]}]),
     "unknown datatype 'FP99'"),
    (_body(inputs=[{"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [1, 2, 3]}]),
     "3 elements of data, but shape [2, 2] needs 4"),
    (_body(inputs=[{"name": "x", "datatype": "FP32", "shape": [-1], "data": [1]}]),
     "non-negative integers"),
    (_body(inputs=[{"name": "x", "datatype": "FP32", "shape": [1], "data": ["a"]}]),
     "not valid FP32"),
    (_body(inputs=[{"name": "x", "datatype": "UINT8", "shape": [1], "data": [300]}]),
     "not valid UINT8"),
    (_body(inputs=[{"name": "x", "datatype": "BOOL", "shape": [1], "data": [3]}]),
     "true/false"),
    (_body(inputs=[{"name": "x", "datatype": "FP32", "shape": [1]}]), "neither 'data'"),
    (_body(inputs=[{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}],
           parameters={"timeout": -5}), "timeout"),
])
def test_client_mistakes_are_named(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as error:
        decode_infer_request("m", "", body, None)
    assert message in error.value.message


def test_bad_binary_sizes_are_client_errors() -> None:
    header = _body(inputs=[{"name": "x", "datatype": "FP32", "shape": [2],
                            "parameters": {"binary_data_size": 8}}])
    with pytest.raises(InvalidInput, match="runs past"):
        decode_infer_request("m", "", header + b"1234", len(header))
    with pytest.raises(InvalidInput, match="add up to"):
        decode_infer_request("m", "", header + b"123456789", len(header))
    with pytest.raises(InvalidInput, match="outside the body"):
        decode_infer_request("m", "", header, len(header) + 10)
    wrong = _body(inputs=[{"name": "x", "datatype": "FP32", "shape": [3],
                           "parameters": {"binary_data_size": 8}}])
    with pytest.raises(InvalidInput, match="needs 12"):
        decode_infer_request("m", "", wrong + b"12345678", len(wrong))


def test_response_is_binary_only_where_asked() -> None:
    request = decode_infer_request("m", "", _body(
        inputs=[{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}],
        outputs=[{"name": "a", "parameters": {"binary_data": True}}, {"name": "b"}]), None)
    response = InferResponse("m", "1", (
        Tensor("a", "FP32", np.array([1.5, 2.5], np.float32)),
        Tensor("b", "BYTES", np.array([b"hi"], dtype=object)),
    ))
    body, header_length = encode_infer_response(response, request)
    assert header_length is not None
    header = orjson.loads(body[:header_length])
    assert header["outputs"][0]["parameters"]["binary_data_size"] == 8
    assert "data" not in header["outputs"][0]
    assert header["outputs"][1]["data"] == ["hi"]
    assert np.frombuffer(body[header_length:], np.float32).tolist() == [1.5, 2.5]
