"""The gRPC ceiling for ``bench/serving.py``: grpcio's asyncio server with one bare handler.

``ModelInfer`` only, answered in the handler (raw input times two, as raw output): no
validation, queue or worker process. Ebb and KServe both build on ``grpc.aio``, so what this
reaches on one core bounds what either can reach over gRPC there.

Usage: ``python bench/raw_grpc.py --port P`` (binds 127.0.0.1; uses Ebb's generated stubs).
"""

from __future__ import annotations

import argparse
import asyncio

import grpc
import numpy as np
import uvloop

from ebb.protocol._generated import open_inference_pb2 as pb


async def model_infer(request: pb.ModelInferRequest, context: grpc.aio.ServicerContext
                      ) -> pb.ModelInferResponse:
    doubled = np.frombuffer(request.raw_input_contents[0], dtype="<f4") * 2
    output = pb.ModelInferResponse.InferOutputTensor(name="OUTPUT0", datatype="FP32",
                                                     shape=request.inputs[0].shape)
    return pb.ModelInferResponse(model_name=request.model_name, outputs=[output],
                                 raw_output_contents=[doubled.tobytes()])


async def serve(port: int) -> None:
    server = grpc.aio.server()
    method = grpc.unary_unary_rpc_method_handler(
        model_infer, request_deserializer=pb.ModelInferRequest.FromString,
        response_serializer=pb.ModelInferResponse.SerializeToString)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "inference.GRPCInferenceService", {"ModelInfer": method})])
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(args.port))


if __name__ == "__main__":
    main()
