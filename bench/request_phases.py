"""Microseconds of Python per request in each phase of Ebb's request path, timed in-process.

The gateway's event-loop thread does all the per-request work, so its phases can be timed one by
one outside a server: each phase runs on the benchmark's ``double`` request (FP32 [1,16]) many
times and the best of several repeats is kept, which holds up on a shared machine where a
throughput figure does not. Batch phases (to and from the worker) run on a batch of ``--batch``
requests and are divided by its size. What is not here: uvicorn's HTTP parsing and writing,
grpc.aio's own work, the event loop's hops and the kernel (``bench/serving_cpu.py`` measures
the whole, per process).

Usage: ``.venv/bin/python bench/request_phases.py`` (this checkout) and, for a before/after,
``PYTHONPATH=/tmp/before/src .venv/bin/python bench/request_phases.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import timeit
from collections.abc import Callable
from typing import Any

import numpy as np

import ebb
from ebb.core.types import InferResponse
from ebb.protocol import codec, grpc_codec
from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.runtime.loaders import resolve
from ebb.serving import batch_wire, dispatcher, ipc
from ebb.serving.batching import BatchPolicy
from ebb.serving.queue import ModelQueue
from ebb.serving.stats import ModelStats

INPUT = np.arange(16, dtype=np.float32).reshape(1, 16) / 2
BODY = json.dumps({"inputs": [{"name": "INPUT0", "shape": [1, 16], "datatype": "FP32",
                               "data": INPUT.ravel().tolist()}]}, separators=(",", ":")).encode()


def best_us(action: Callable[[], Any], number: int, repeat: int) -> float:
    """Best of many short runs: on a shared machine only short windows are undisturbed."""
    number = max(number, 1)
    return min(timeit.repeat(action, number=number, repeat=repeat)) / number * 1e6


async def phases(batch_size: int, number: int, repeat: int) -> dict[str, float]:
    metadata = resolve("builtin:double").describe()
    queue = ModelQueue(BatchPolicy(batch_size, 0.0), max_size=1 << 30)
    stats = ModelStats()
    served = dispatcher.ServedModel(metadata, queue, None, stats, 30.0)  # type: ignore[arg-type]
    request = codec.decode_infer_request("double", "", BODY, None)
    arena = ipc.Arena.create()
    figures: dict[str, float] = {}
    figures["REST decode"] = best_us(
        lambda: codec.decode_infer_request("double", "", BODY, None), number, repeat)

    def admit_and_take() -> None:
        for _ in range(batch_size):
            dispatcher.admit(served, request)
        batch = queue.take_ready_batch(asyncio.get_running_loop().time())
        assert batch is not None
        for item in batch:
            if item.timer is not None:
                item.timer.cancel()

    figures["validate + queue"] = best_us(admit_and_take, number // batch_size, repeat) \
        / batch_size
    for _ in range(batch_size):
        dispatcher.admit(served, request)
    batch = queue.take_ready_batch(asyncio.get_running_loop().time())
    assert batch is not None
    figures["batch out (stack + frame)"] = best_us(
        lambda: ipc.encode(batch_wire.batch_message(batch, True, arena)),
        number // batch_size, repeat) / batch_size
    outputs = {"OUTPUT0": np.concatenate([INPUT * 2] * batch_size)}
    reply = b"".join(bytes(part) for part in ipc.encode(
        ("ok", ipc.place(outputs, arena), 1e-5, arena.size)))
    head, payload = reply[:ipc._HEAD.size], reply[ipc._HEAD.size:]

    def answer_in() -> None:
        _kind, placed, seconds, size = ipc._decode(head, (), payload)
        answers = batch_wire.split_answers(ipc.fetch(placed, arena, size, copy=True), batch)
        for item in batch:
            item.future = asyncio.get_running_loop().create_future()
        batch_wire.deliver(batch, answers, 0.0, seconds)

    figures["answer in (unframe + split + deliver)"] = best_us(
        answer_in, number // batch_size, repeat) / batch_size
    answer = {"OUTPUT0": INPUT * 2}
    respond = _responder(served, metadata)
    response = respond(request, answer)
    figures["response object"] = best_us(lambda: respond(request, answer), number, repeat)
    figures["REST encode"] = best_us(
        lambda: codec.encode_infer_response(response, request), number, repeat)
    figures.update(grpc_phases(response, number, repeat))
    return figures


def _responder(served: Any, metadata: Any) -> Callable[[Any, Any], InferResponse]:
    """The dispatcher's answer builder, in this tree or in an older one (``--baseline``)."""
    contract = getattr(served, "contract", None)
    if contract is not None:
        return contract.response  # type: ignore[no-any-return]
    return lambda request, outputs: dispatcher._response(  # type: ignore[attr-defined]
        metadata, request, outputs)


def grpc_phases(response: InferResponse, number: int, repeat: int) -> dict[str, float]:
    message = pb.ModelInferRequest(
        model_name="double",
        inputs=[pb.ModelInferRequest.InferInputTensor(name="INPUT0", datatype="FP32",
                                                      shape=[1, 16])],
        raw_input_contents=[INPUT.astype("<f4").tobytes()])
    wire = message.SerializeToString()
    parsed = pb.ModelInferRequest.FromString(wire)
    return {
        "gRPC parse (protobuf)": best_us(lambda: pb.ModelInferRequest.FromString(wire),
                                         number, repeat),
        "gRPC decode": best_us(lambda: grpc_codec.decode_model_infer_request(parsed, None),
                               number, repeat),
        "gRPC encode + serialize": best_us(
            lambda: grpc_codec.encode_model_infer_response(response, True).SerializeToString(),
            number, repeat),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--number", type=int, default=32, help="calls per timed run")
    parser.add_argument("--repeat", type=int, default=300, help="timed runs; the best counts")
    args = parser.parse_args()
    figures = asyncio.run(phases(args.batch, args.number, args.repeat))
    print(f"Ebb from {ebb.__file__}; batch of {args.batch}; best of {args.repeat}\n")
    print("| phase | µs / request |\n|---|---:|")
    for phase, us in figures.items():
        print(f"| {phase} | {us:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
