"""The benchmark's one request (FP32 [1,16]) over REST and gRPC, and the check of each answer.

Every server's answer is checked before its numbers count, and again after the load.
"""

from __future__ import annotations

import json
import urllib.request

import grpc
import numpy as np

from ebb.protocol._generated import open_inference_pb2 as pb

INPUT = np.arange(16, dtype=np.float32).reshape(1, 16) / 2
GRPC_PATH = "/inference.GRPCInferenceService/ModelInfer"
GRPC_MIN_ANSWER_BYTES = 5 + INPUT.nbytes  # frame prefix + the raw output tensor


def rest_body() -> str:
    tensor = {"name": "INPUT0", "shape": list(INPUT.shape), "datatype": "FP32",
              "data": INPUT.ravel().tolist()}
    return json.dumps({"inputs": [tensor]}, separators=(",", ":"))


def grpc_request(model: str) -> pb.ModelInferRequest:
    tensor = pb.ModelInferRequest.InferInputTensor(name="INPUT0", datatype="FP32",
                                                   shape=list(INPUT.shape))
    return pb.ModelInferRequest(model_name=model, inputs=[tensor],
                                raw_input_contents=[INPUT.astype("<f4").tobytes()])


def expected_output(model: str) -> np.ndarray:
    return INPUT * 2 if model == "double" else INPUT


def check_rest(port: int, model: str) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v2/models/{model}/infer",
                                     data=rest_body().encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        output = json.loads(answer.read())["outputs"][0]
    _check_values(np.asarray(output["data"], dtype=np.float32), model, f"REST :{port}")


def check_grpc(port: int, model: str) -> None:
    """One ModelInfer through a real gRPC client, answer compared with the expected tensor."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        infer = channel.unary_unary(GRPC_PATH,
                                    request_serializer=pb.ModelInferRequest.SerializeToString,
                                    response_deserializer=pb.ModelInferResponse.FromString)
        answer = infer(grpc_request(model), timeout=10, wait_for_ready=True)
    if answer.raw_output_contents:
        values = np.frombuffer(answer.raw_output_contents[0], dtype="<f4")
    else:
        values = np.asarray(answer.outputs[0].contents.fp32_contents, dtype=np.float32)
    _check_values(values, model, f"gRPC :{port}")


def _check_values(values: np.ndarray, model: str, where: str) -> None:
    expected = expected_output(model).ravel()
    if values.shape != expected.shape or not np.allclose(values, expected):
        raise RuntimeError(f"{where} answered {values.tolist()}, expected {expected.tolist()}")
