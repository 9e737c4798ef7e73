"""How far can a Python gRPC server go on one core? grpc.aio vs the synchronous grpcio server.

Ebb's gRPC path builds on ``grpc.aio``; a bare ``grpc.aio`` handler is its ceiling. This
prototype measures, in one interleaved run on the same ``ModelInfer`` request (h2load, closed
loop, server pinned to one CPU and h2load to another), one bare handler (raw input x2, as raw
output) behind each server design:

- ``aio``: ``grpc.aio`` on uvloop, defaults (what Ebb and ``bench/raw_grpc.py`` use);
- ``aio-tuned``: the same with throughput-minded channel options and the epoll1 poller;
- ``sync``: the synchronous ``grpc.server`` with a thread pool, answering in the pool's thread;
- ``sync-to-loop``: the synchronous server whose threads hand each call to an asyncio loop in
  another thread and wait for its answer (how Ebb would keep its asyncio queue and workers
  behind a synchronous gRPC front).

Usage: ``.venv/bin/python bench/grpc_ceiling.py --rounds 2`` (the driver), or
``--serve MODE --port P`` (one server, what the driver starts).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from _serving_load import Load, grpc_frame, run_h2load
from _serving_procs import ServerProcess, ServerSpec, free_port

from ebb.protocol._generated import open_inference_pb2 as pb

MODES = ("aio", "aio-tuned", "sync", "sync-to-loop")
SERVICE, METHOD = "inference.GRPCInferenceService", "ModelInfer"
TUNED_OPTIONS = [("grpc.max_concurrent_streams", 1024), ("grpc.http2.bdp_probe", 0),
                 ("grpc.optimization_target", "throughput"), ("grpc.so_reuseport", 0)]
THREADS = 8


def answer(request: pb.ModelInferRequest) -> pb.ModelInferResponse:
    doubled = np.frombuffer(request.raw_input_contents[0], dtype="<f4") * 2
    output = pb.ModelInferResponse.InferOutputTensor(name="OUTPUT0", datatype="FP32",
                                                     shape=request.inputs[0].shape)
    return pb.ModelInferResponse(model_name=request.model_name, outputs=[output],
                                 raw_output_contents=[doubled.tobytes()])


def _handler(behaviour: Any) -> grpc.GenericRpcHandler:
    method = grpc.unary_unary_rpc_method_handler(
        behaviour, request_deserializer=pb.ModelInferRequest.FromString,
        response_serializer=pb.ModelInferResponse.SerializeToString)
    return grpc.method_handlers_generic_handler(SERVICE, {METHOD: method})


async def serve_aio(port: int, tuned: bool) -> None:
    async def infer(request: pb.ModelInferRequest, context: Any) -> pb.ModelInferResponse:
        return answer(request)

    server = grpc.aio.server(options=TUNED_OPTIONS if tuned else None)
    server.add_generic_rpc_handlers([_handler(infer)])
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def serve_sync(port: int, to_loop: bool) -> None:
    loop = asyncio.new_event_loop()
    if to_loop:
        threading.Thread(target=loop.run_forever, daemon=True).start()

    async def on_loop(request: pb.ModelInferRequest) -> pb.ModelInferResponse:
        return answer(request)

    def infer(request: pb.ModelInferRequest, context: Any) -> pb.ModelInferResponse:
        if not to_loop:
            return answer(request)
        return asyncio.run_coroutine_threadsafe(on_loop(request), loop).result()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=THREADS),
                         options=TUNED_OPTIONS, maximum_concurrent_rpcs=None)
    server.add_generic_rpc_handlers([_handler(infer)])
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


def serve(mode: str, port: int) -> None:
    if mode in ("aio", "aio-tuned"):
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve_aio(port, tuned=mode == "aio-tuned"))
    else:
        serve_sync(port, to_loop=mode == "sync-to-loop")


def drive(rounds: int, connections: list[int], duration: int) -> None:
    os.sched_setaffinity(0, {1})
    request = pb.ModelInferRequest(
        model_name="double",
        inputs=[pb.ModelInferRequest.InferInputTensor(name="INPUT0", datatype="FP32",
                                                      shape=[1, 16])],
        raw_input_contents=[np.arange(16, dtype="<f4").tobytes()])
    results: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="ebb-grpc-") as workdir:
        body = Path(workdir) / "request.grpc"
        body.write_bytes(grpc_frame(request.SerializeToString()))
        for number in range(rounds):
            for mode in MODES:
                port = free_port()
                env = {**os.environ, "GRPC_POLL_STRATEGY": "epoll1"} \
                    if mode == "aio-tuned" else None
                spec = ServerSpec(mode, [sys.executable, __file__, "--serve", mode, "--port",
                                         str(port)], None, port, env=env)
                with ServerProcess(spec, 0, Path(workdir) / f"{mode}.log") as server:
                    server.wait_ready(30)
                    url = f"http://127.0.0.1:{port}/{SERVICE}/{METHOD}"
                    for conc in connections:
                        load = Load(url, conc, duration, 1)
                        run_h2load(Load(url, conc, 1, 1), body, Path(workdir) / "warm.log", 69)
                        result = run_h2load(load, body, Path(workdir) / "h2.log", 69)
                        results.setdefault((mode, conc), []).append(result.rps)
                        print(f"round {number + 1} {mode:13} c{conc:<3} {result.rps:8,.0f} req/s "
                              f"p99 {result.p99_ms:6.1f} ms errors {result.errors}", flush=True)
    print("\n| server design | " + " | ".join(f"c{c} req/s (median)" for c in connections)
          + " | vs aio |")
    print("|---|" + "---:|" * (len(connections) + 1))
    for mode in MODES:
        medians = [statistics.median(results[(mode, c)]) for c in connections]
        base = statistics.median(results[("aio", connections[-1])])
        print(f"| {mode} | " + " | ".join(f"{m:,.0f}" for m in medians)
              + f" | {medians[-1] / base:.2f}x |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=MODES)
    parser.add_argument("--port", type=int)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
    else:
        drive(args.rounds, args.connections, args.duration)
    return 0


if __name__ == "__main__":
    sys.exit(main())
