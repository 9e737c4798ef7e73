"""Every OIP datatype round-trips unchanged over every encoding, through a real ``ebb serve``.

One request per encoding carries a [2, 3] tensor of each datatype (its extremes; NaN, infinities
and non-UTF-8 BYTES where the encoding can carry them) to the identity model, and each datatype's
answer is checked bit for bit:

- ``rest-binary``: tritonclient.http's default, binary tensor data extension both ways;
- ``rest-json``: tritonclient.http with ``binary_data=False`` for inputs and outputs;
- ``rest-json-nested``: plain JSON with nested ``data`` lists, as curl users send it;
- ``grpc-raw``: tritonclient.grpc (``raw_input_contents`` / ``raw_output_contents``);
- ``grpc-typed``: typed ``contents`` through tritonclient's own stubs (FP16 has no typed field).

The gRPC clients run in a subprocess: tritonclient.grpc's protobuf package ``inference`` collides
with ebb's in one process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as triton

from tests.conftest import RunningServer
from tests.protocol._tensors import (
    CONTENTS_FIELD,
    DATATYPES,
    NUMPY,
    assert_same_tensor,
    decode,
    sample_arrays,
)

HERE = Path(__file__).parent
TRANSPORTS = ("rest-binary", "rest-json", "rest-json-nested", "grpc-raw", "grpc-typed")
Outcome = dict[str, np.ndarray] | str
"""Per transport: the answer's tensors by datatype, or what went wrong."""


def _from_json_data(data: list[Any], datatype: str, shape: list[int]) -> np.ndarray:
    if datatype == "BYTES":
        array = np.empty(len(data), dtype=object)
        array[:] = [item.encode() if isinstance(item, str) else item for item in data]
        return array.reshape(shape)
    return np.array(data, dtype=NUMPY[datatype]).reshape(shape)


def _tritonclient_http(server: RunningServer, binary: bool) -> Outcome:
    arrays = sample_arrays(json_safe=not binary)
    client = triton.InferenceServerClient(server.url.removeprefix("http://"))
    try:
        inputs = []
        for datatype, array in arrays.items():
            tensor = triton.InferInput(f"IN_{datatype}", list(array.shape), datatype)
            tensor.set_data_from_numpy(array, binary_data=binary)
            inputs.append(tensor)
        outputs = None if binary else [triton.InferRequestedOutput(f"OUT_{dt}", binary_data=False)
                                       for dt in arrays]
        result = client.infer("identity", inputs, outputs=outputs)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    finally:
        client.close()
    got = {}
    for datatype in arrays:
        output = result.get_output(f"OUT_{datatype}")
        if output is None:
            continue
        if ("binary_data_size" in output.get("parameters", {})) != binary:
            return f"OUT_{datatype} was not answered in {'binary' if binary else 'JSON'}"
        array = result.as_numpy(f"OUT_{datatype}")
        if datatype == "BYTES" and not binary:
            # tritonclient gives BYTES from JSON back as str; compare them as bytes
            array = _from_json_data(array.reshape(-1).tolist(), datatype, list(array.shape))
        got[datatype] = array
    return got


def _nested_json(server: RunningServer) -> Outcome:
    arrays = sample_arrays(json_safe=True)
    inputs = []
    for datatype, array in arrays.items():
        data = array.tolist()
        if datatype == "BYTES":
            data = [[item.decode() for item in row] for row in data]
        inputs.append({"name": f"IN_{datatype}", "datatype": datatype,
                       "shape": list(array.shape), "data": data})
    response = httpx.post(f"{server.url}/v2/models/identity/infer",
                          json={"id": "nested", "inputs": inputs}, timeout=30)
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text}"
    return {output["name"].removeprefix("OUT_"):
            _from_json_data(output["data"], output["datatype"], output["shape"])
            for output in response.json()["outputs"]}


def _grpc(identity: RunningServer, identity_typed: RunningServer) -> dict[str, Outcome]:
    targets = {"identity": identity.grpc_target, "identity_typed": identity_typed.grpc_target}
    process = subprocess.run(
        [sys.executable, str(HERE / "_triton_grpc_client.py"), json.dumps(targets), "datatypes"],
        capture_output=True, text=True, timeout=60)
    assert process.returncode == 0, process.stderr
    outcomes: dict[str, Outcome] = {}
    for transport, result in json.loads(process.stdout).items():
        if "error" in result:
            outcomes[transport] = f"{result['error']['status']}: {result['error']['message']}"
        elif transport == "grpc-typed" and result["value"]["raw_output_contents"]:
            outcomes[transport] = "a request with typed contents got raw_output_contents back"
        else:
            outcomes[transport] = {name.removeprefix("OUT_"): decode(tensor)
                                   for name, tensor in result["value"]["tensors"].items()}
    return outcomes


@pytest.fixture(scope="module")
def round_trips(identity_server: RunningServer,
                identity_typed_server: RunningServer) -> dict[str, Outcome]:
    return {
        "rest-binary": _tritonclient_http(identity_server, binary=True),
        "rest-json": _tritonclient_http(identity_server, binary=False),
        "rest-json-nested": _nested_json(identity_server),
        **_grpc(identity_server, identity_typed_server),
    }


CASES = [pytest.param(transport, datatype, id=f"{transport}-{datatype}")
         for transport in TRANSPORTS for datatype in DATATYPES
         if not (transport == "grpc-typed" and datatype not in CONTENTS_FIELD)]


@pytest.mark.parametrize(("transport", "datatype"), CASES)
def test_datatype_round_trips(round_trips: dict[str, Outcome], transport: str,
                              datatype: str) -> None:
    outcome = round_trips[transport]
    assert not isinstance(outcome, str), f"the {transport} request failed: {outcome}"
    expected = sample_arrays(json_safe=transport.startswith("rest-json"))[datatype]
    assert_same_tensor(outcome.get(datatype), expected, datatype)


def test_every_output_of_the_request_is_answered(round_trips: dict[str, Outcome]) -> None:
    for transport, outcome in round_trips.items():
        assert not isinstance(outcome, str), f"the {transport} request failed: {outcome}"
        wanted = set(CONTENTS_FIELD) if transport == "grpc-typed" else set(DATATYPES)
        assert set(outcome) == wanted, transport
