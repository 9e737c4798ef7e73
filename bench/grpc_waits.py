"""Where a gRPC call's time goes in Ebb: inside its ModelInfer handler, or in grpc.aio before and
after it.

One ``ebb serve builtin:double`` (one worker) on CPU 0 whose gateway counts, for every
ModelInfer call, how many calls were inside the handler when it entered and how long it stayed
there, and the batches the worker ran; h2load loads it closed loop from CPU 1, as
``bench/serving.py`` does. Comparing the client's latency with the time inside the handler says
how long a call waits in grpc.aio (the HTTP/2 front, its completion queue and the hop to the
event loop) before Ebb sees it and after Ebb answers it.

    .venv/bin/python bench/grpc_waits.py [--connections 64] [--duration 5]

``--serve ARGS`` is the instrumented gateway itself (what the command above starts).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _serving_load import Load, grpc_frame, run_h2load
from _serving_procs import ServerProcess, ServerSpec, ensure_tool, free_port
from serving import GRPC_MIN_ANSWER_BYTES, GRPC_PATH, grpc_request


def instrument(out: Path) -> None:
    """Count ModelInfer calls in the handler and batches run; written to ``out`` at exit."""
    from ebb.protocol import grpc_server
    from ebb.serving import workers

    seen: dict[str, Any] = {"inside": 0, "at_entry": [], "handler_s": [], "batches": []}
    infer = grpc_server.InferenceServicer.ModelInfer
    run_batch = workers.WorkerHandle._run_batch

    async def counted_infer(self: Any, request: Any, context: Any) -> Any:
        seen["inside"] += 1
        seen["at_entry"].append(seen["inside"])
        started = time.perf_counter()
        try:
            return await infer(self, request, context)
        finally:
            seen["handler_s"].append(time.perf_counter() - started)
            seen["inside"] -= 1

    async def counted_batch(self: Any, reader: Any, batch: list[Any]) -> None:
        seen["batches"].append(len(batch))
        await run_batch(self, reader, batch)

    grpc_server.InferenceServicer.ModelInfer = counted_infer  # type: ignore[method-assign]
    workers.WorkerHandle._run_batch = counted_batch  # type: ignore[method-assign]

    def write() -> None:
        out.write_text(json.dumps({key: seen[key] for key in ("at_entry", "handler_s",
                                                               "batches")}))

    atexit.register(write)


def serve(argv: list[str]) -> int:
    instrument(Path(os.environ["EBB_GRPC_WAITS_OUT"]))
    from ebb.cli import main as ebb_main

    return ebb_main(argv)


def measure(connections: int, duration: int) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="ebb-grpc-waits-"))
    out = workdir / "seen.json"
    http, grpc_port = free_port(), free_port()
    spec = ServerSpec("Ebb", [sys.executable, str(Path(__file__)), "--serve", "serve",
                              "builtin:double", "--http-port", str(http), "--grpc-port",
                              str(grpc_port), "--workers", "1"],
                      http, grpc_port, health_path="/v2/health/ready",
                      env={**os.environ, "EBB_GRPC_WAITS_OUT": str(out)})
    body = workdir / "double.grpc"
    body.write_bytes(grpc_frame(grpc_request("double").SerializeToString()))
    url = f"http://127.0.0.1:{grpc_port}{GRPC_PATH}"
    with ServerProcess(spec, 0, workdir / "server.log") as server:
        server.wait_ready(90)
        result = run_h2load(Load(url, connections, duration, 1), body, workdir / "h2load.log",
                            GRPC_MIN_ANSWER_BYTES)
    deadline = time.monotonic() + 30
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if not out.exists():
        raise SystemExit(f"the server wrote no counts to {out}; its log: {workdir / 'server.log'}")
    seen = json.loads(out.read_text())
    handler_ms = sorted(seconds * 1000 for seconds in seen["handler_s"])
    return {"connections": connections, "req/s": result.rps, "client p50 ms": result.p50_ms,
            "handler p50 ms": statistics.median(handler_ms),
            "calls inside the handler at entry (median)": statistics.median(seen["at_entry"]),
            "calls inside the handler at entry (max)": max(seen["at_entry"]),
            "requests per batch (mean)": statistics.fmean(seen["batches"])}


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        return serve(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--duration", type=int, default=5)
    args = parser.parse_args()
    ensure_tool("h2load", "nghttp2-client")
    os.sched_setaffinity(0, {1})
    rows = [measure(connections, args.duration) for connections in args.connections]
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(f"{value:,.1f}" if isinstance(value, float) else str(value)
                                for value in row.values()) + " |")
    return 0


if __name__ == "__main__":  # worker processes import this module too: only the gateway runs
    sys.exit(main())
