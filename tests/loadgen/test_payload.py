"""Requests built from model metadata or from a file, and what the server's /metrics tells."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import orjson
import pytest

from ebb.core.types import TensorSpec
from ebb.loadgen.config import LoadConfigError, check_grpc_target, check_http_url
from ebb.loadgen.payload import (
    PayloadError,
    grpc_request,
    inputs_from_file,
    random_inputs,
    rest_body,
    specs_from_json,
)
from ebb.loadgen.poller import read_gauges
from ebb.protocol.codec import decode_infer_request
from ebb.protocol.grpc_codec import decode_model_infer_request


def test_random_inputs_fit_the_metadata_with_free_dimensions_set_to_one() -> None:
    specs = specs_from_json({"inputs": [
        {"name": "x", "datatype": "FP32", "shape": [-1, 3]},
        {"name": "ids", "datatype": "INT64", "shape": [2]},
        {"name": "mask", "datatype": "BOOL", "shape": [-1]},
        {"name": "text", "datatype": "BYTES", "shape": [-1, 2]},
    ]})
    inputs = random_inputs(specs, np.random.default_rng(0))
    assert [(t.name, t.datatype, t.shape) for t in inputs] == [
        ("x", "FP32", (1, 3)), ("ids", "INT64", (2,)), ("mask", "BOOL", (1,)),
        ("text", "BYTES", (1, 2))]
    assert inputs[0].data.dtype == np.float32
    rest = decode_infer_request("m", "", rest_body(inputs), None)
    assert [t.shape for t in rest.inputs] == [t.shape for t in inputs]
    np.testing.assert_array_equal(rest.inputs[0].data, inputs[0].data)
    grpc, raw = decode_model_infer_request(grpc_request("m", inputs), None)
    assert raw and grpc.model_name == "m"
    np.testing.assert_array_equal(grpc.inputs[1].data, inputs[1].data)
    assert list(grpc.inputs[3].data.reshape(-1)) == list(inputs[3].data.reshape(-1))


def test_same_seed_same_request() -> None:
    specs = (TensorSpec("x", "FP16", (4,)),)
    first = random_inputs(specs, np.random.default_rng(7))[0].data
    np.testing.assert_array_equal(first, random_inputs(specs, np.random.default_rng(7))[0].data)


def test_unusable_metadata_and_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(PayloadError, match="inputs"):
        specs_from_json({"name": "m"})
    with pytest.raises(PayloadError, match="COMPLEX"):
        random_inputs((TensorSpec("x", "COMPLEX", (1,)),), np.random.default_rng(0))
    bad = tmp_path / "bad.json"
    bad.write_text('{"inputs": []}')
    with pytest.raises(PayloadError, match="non-empty 'inputs'"):
        inputs_from_file(bad, "m")


def test_input_file_is_sent_as_written(tmp_path: Path) -> None:
    path = tmp_path / "req.json"
    path.write_bytes(orjson.dumps({"inputs": [
        {"name": "INPUT0", "datatype": "FP32", "shape": [1, 2], "data": [1.5, 2.5]}]}))
    body, inputs = inputs_from_file(path, "m")
    assert body == path.read_bytes()
    assert inputs[0].data.tolist() == [[1.5, 2.5]]


EXPOSITION = """\
# TYPE ebb_queue_depth gauge
ebb_queue_depth{model="sleep"} 7.0
ebb_queue_depth{model="other"} 100.0
# TYPE ebb_workers gauge
ebb_workers{model="sleep",state="starting"} 1.0
ebb_workers{model="sleep",state="ready"} 2.0
ebb_workers{model="sleep",state="draining"} 1.0
"""


def test_gauges_are_read_for_the_model_under_load() -> None:
    reading = read_gauges(EXPOSITION, "sleep")
    assert (reading.queue_depth, reading.ready, reading.starting) == (7.0, 2.0, 1.0)
    missing = read_gauges(EXPOSITION, "absent")
    assert math.isnan(missing.queue_depth) and math.isnan(missing.ready)


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "ftp://host", "http://u:p@host:1",
                                 "http://host:1/?q=1", "http://host:99999"])
def test_only_explicit_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(LoadConfigError):
        check_http_url(url)


def test_targets_are_normalised() -> None:
    assert check_http_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert check_grpc_target("[::1]:8081") == "[::1]:8081"
    with pytest.raises(LoadConfigError):
        check_grpc_target("localhost")
