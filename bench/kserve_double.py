"""KServe 0.21's model server for ``bench/serving.py``: Ebb's benchmark models, on 127.0.0.1, quiet.

Runs in ``bench/.venv-kserve`` (``serving.py`` creates it), never next to Ebb or tritonclient:
each of them registers the ``inference`` proto package, and two cannot share a process.

- ``double``: FP32 [1,16] -> the input times two (what ``ebb serve builtin:double`` answers);
- ``sleep``: answers its input after ``time.sleep(ms + per_item_ms * rows)``, the cost of
  ``builtin:sleep``. KServe's Python server has no batcher (its batcher is a Go sidecar of the
  Kubernetes agent), so every request pays the fixed cost; ``predict`` is synchronous and blocks
  the event loop for that time, as any synchronous KServe model does.

Why not ``kserve.ModelServer().start()``: it binds every interface (REST ``0.0.0.0``, gRPC
``[::]``) and has no flag to change that. So this builds KServe's own pieces — ``ModelServer``
(data plane, model registry), ``RESTServer.create_application()`` (the FastAPI app with KServe's
routes, middlewares and error handlers), KServe's gRPC servicer and interceptors — and serves
them on 127.0.0.1. Per-request logging is off for a fair comparison: no uvicorn access log, no
latency log line, and the ``kserve`` loggers at WARNING (the gRPC logging interceptor writes one
INFO line per call). The event loop is asyncio's default, as with ``ModelServer.start()``, which
calls ``asyncio.run``; ``--loop uvloop`` is there to compare: on one core it gives the same
throughput but a far longer tail at c64 (some connections wait for seconds).

Usage: ``python bench/kserve_double.py --model double --http-port P --grpc-port Q``
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from concurrent import futures
from typing import Any

HOST = "127.0.0.1"
GRPC_THREADS = 4  # ModelServer's default --max_threads


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["double", "sleep"], default="double")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--sleep-ms", type=float, default=2.0)
    parser.add_argument("--per-item-ms", type=float, default=0.05)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    return parser.parse_args()


def build_model(args: argparse.Namespace) -> Any:
    from kserve import Model
    from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

    def answer(model: Model, request: InferRequest, output: Any) -> InferResponse:
        binary = request.use_binary_outputs
        tensor = InferOutput(name="OUTPUT0", shape=list(output.shape), datatype="FP32")
        tensor.set_data_from_numpy(output, binary_data=binary)
        return InferResponse(response_id=request.id or "", model_name=model.name,
                             infer_outputs=[tensor], use_binary_outputs=binary)

    class Double(Model):
        def predict(self, payload: InferRequest, headers: Any = None) -> InferResponse:
            return answer(self, payload, payload.inputs[0].as_numpy() * 2)

    class Sleep(Model):
        def predict(self, payload: InferRequest, headers: Any = None) -> InferResponse:
            batch = payload.inputs[0].as_numpy()
            time.sleep((args.sleep_ms + args.per_item_ms * batch.shape[0]) / 1000.0)
            return answer(self, payload, batch)

    model = Double("double") if args.model == "double" else Sleep("sleep")
    model.ready = True
    return model


def quiet_logging() -> None:
    for name in ("kserve", "kserve.trace", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)


def rest_server(server: Any, port: int) -> Any:
    import uvicorn
    from kserve.protocol.rest.server import RESTServer

    rest = RESTServer("kserve.model_server:app", server.dataplane,
                      server.model_repository_extension, port, event_loop="auto")
    rest.create_application()  # configures the module-level app of kserve.model_server
    from kserve.model_server import app

    config = uvicorn.Config(app, host=HOST, port=port, log_config=None, access_log=False,
                            timeout_keep_alive=65, lifespan="on")
    return uvicorn.Server(config)


async def serve_grpc(server: Any, port: int) -> None:
    """``kserve.protocol.grpc.server.GRPCServer.start`` of 0.21, bound to 127.0.0.1."""
    from grpc import aio
    from kserve.constants.constants import MAX_GRPC_MESSAGE_LENGTH
    from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc
    from kserve.protocol.grpc.interceptors import (
        ExceptionToStatusInterceptor,
        LoggingInterceptor,
    )
    from kserve.protocol.grpc.servicer import InferenceServicer

    grpc_server = aio.server(
        futures.ThreadPoolExecutor(max_workers=GRPC_THREADS),
        interceptors=(LoggingInterceptor(), ExceptionToStatusInterceptor()),
        options=[("grpc.max_send_message_length", MAX_GRPC_MESSAGE_LENGTH),
                 ("grpc.max_receive_message_length", MAX_GRPC_MESSAGE_LENGTH)],
    )
    servicer = InferenceServicer(server.dataplane, server.model_repository_extension)
    grpc_predict_v2_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, grpc_server)
    grpc_server.add_insecure_port(f"{HOST}:{port}")
    await grpc_server.start()
    await grpc_server.wait_for_termination()


async def serve(args: argparse.Namespace) -> None:
    from kserve import ModelServer

    model = build_model(args)
    server = ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, enable_grpc=False,
                         enable_latency_logging=False)
    server.register_model(model)
    model.enable_latency_logging = False
    model.start()
    quiet_logging()
    server.setup_event_loop()  # the thread pool ModelServer.start would install
    http = rest_server(server, args.http_port)
    await asyncio.gather(http.serve(), serve_grpc(server, args.grpc_port))


def main() -> None:
    args = parse_args()
    sys.argv = sys.argv[:1]  # kserve.model_server parses sys.argv when imported
    if args.loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(args))
    else:
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
