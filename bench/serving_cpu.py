"""CPU time per request of Ebb's request path, process by process and phase by phase.

Throughput on a shared machine says little (other work takes the CPU); the CPU time Ebb's own
processes spend per answered request does not depend on how much of the CPU they got. This runs
one Ebb server pinned to one CPU, loads it closed loop from another (wrk for REST, h2load for
gRPC), and reads the CPU time of each of its processes and threads from ``/proc`` before and
after: microseconds of CPU per request. With ``--py-spy`` it also samples the gateway's event
loop thread (``py-spy record --nonblocking``) and splits that thread's time into phases by the
innermost frame that names one (``PHASES``).

Usage::

    .venv/bin/python bench/serving_cpu.py --protocol rest --connections 64 --py-spy
    .venv/bin/python bench/serving_cpu.py --baseline-src /tmp/before/src ...  # the same, before

Prints a markdown table; ``--json`` writes the figures too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil
import triton_setup
from _serving_load import Load, LoadResult, grpc_frame, run_h2load, run_wrk, wrk_script
from _serving_procs import ServerProcess, ServerSpec, free_port
from serving import GRPC_MIN_ANSWER_BYTES, GRPC_PATH, grpc_request, rest_body

PHASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("REST decode", ("ebb/protocol/codec.py:decode_infer_request", "codec.py:_decode_input",
                     "rest.py:_read_request", "rest.py:_read_body",
                     "flat_infer.py:decode_common", "flat_infer.py:_tensor")),
    ("REST encode", ("codec.py:encode_infer_response",)),
    ("gRPC decode/encode", ("grpc_codec.py",)),
    ("batch to/from worker", ("batch_wire.py", "ebb/serving/ipc.py", "workers.py:_run_batch")),
    ("queue + batching", ("ebb/serving/queue.py", "ebb/serving/batching.py")),
    ("dispatch + validation", ("ebb/serving/dispatcher.py", "ebb/core/dispatch.py")),
    ("metrics + recording", ("ebb/protocol/recording.py", "ebb/metrics/", "prometheus_client")),
    ("security + middleware", ("ebb/security/", "ebb/protocol/asgi.py", "ebb/inference_log/")),
    ("REST app routing", ("ebb/protocol/rest.py", "ebb/app/flat_infer.py")),
    ("gRPC server (grpc.aio)", ("grpc/aio/", "grpc/_cython", "grpc_server.py")),
    ("HTTP server (uvicorn, ebb.app.wire, ebb.app.fast_infer)",
     ("uvicorn/", "httptools", "ebb/app/wire.py", "ebb/app/fast_infer.py")),
)
"""Phase of a sample: the first phase (in this order) any frame of the stack names, innermost
frame first; a frame names a phase when its ``file:function`` contains one of the strings.
A stack that names none is the event loop's own work (asyncio, uvloop's C code and its system
calls; the sampler cannot tell a thread preempted there from one running)."""


@dataclass(frozen=True)
class Usage:
    """CPU seconds per process (pid -> name, seconds) and per gateway thread."""

    processes: dict[int, tuple[str, float]]
    threads: dict[int, float]


def usage(server: ServerProcess) -> Usage:
    processes: dict[int, tuple[str, float]] = {}
    threads: dict[int, float] = {}
    for index, process in enumerate(server.processes()):
        try:
            times = process.cpu_times()
            name = "gateway" if index == 0 else f"child {process.pid}"
            processes[process.pid] = (name, times.user + times.system)
            if index == 0:
                threads = {t.id: t.user_time + t.system_time for t in process.threads()}
        except psutil.NoSuchProcess:
            continue
    return Usage(processes, threads)


def classify(stack: str) -> str:
    """The phase of one collapsed stack (``frame;frame;...`` root first)."""
    frames = stack.split(";")[::-1]
    for frame in frames:
        for phase, needles in PHASES:
            if any(needle in frame for needle in needles):
                return phase
    return "event loop (asyncio/uvloop, syscalls)"


def phases_of(raw: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    if not raw.exists():
        return counts
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[classify(_normalise(stack))] += int(count)
    return counts


def _normalise(stack: str) -> str:
    """py-spy's raw frames read ``function (path/file.py:line)``: make them ``path:function``."""
    frames = []
    for frame in stack.split(";"):
        function, _, where = frame.partition(" (")
        path = where.rsplit(":", 1)[0]
        frames.append(f"{path}:{function}")
    return ";".join(frames)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=["ebb", "triton"], default="ebb",
                        help="triton: the same model in Triton's python backend "
                             "(bench/triton_setup.py), for comparison")
    parser.add_argument("--protocol", choices=["rest", "grpc"], default="rest")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--py-spy", action="store_true", help="split the loop thread by phase")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--baseline-src", type=Path, default=None,
                        help="run Ebb from this source directory instead")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("ebb_flags", nargs="*", help="extra `ebb serve` flags (after --)")
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {args.client_cpu})
    http, grpc_port = free_port(), free_port()
    workdir = tempfile.mkdtemp(prefix="ebb-cpu-")
    spec = server_spec(args, Path(workdir), http, grpc_port)
    try:
        with ServerProcess(spec, args.server_cpu, Path(workdir) / "server.log") as server:
            server.wait_ready(90)
            figures = measure(args, server, Path(workdir), http, grpc_port)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(render(figures, args))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


def server_spec(args: argparse.Namespace, workdir: Path, http: int, grpc_port: int
                ) -> ServerSpec:
    if args.server == "triton":
        triton = triton_setup.prepare(triton_setup.ensure_venv(install=False))
        argv = triton.argv(triton_setup.write_repository(workdir / "models"), http, grpc_port)
        return ServerSpec("Triton", argv, http, grpc_port, health_path="/v2/health/ready",
                          env=triton.env)
    env = None if args.baseline_src is None else {**os.environ,
                                                   "PYTHONPATH": str(args.baseline_src)}
    return ServerSpec("Ebb", [sys.executable, "-m", "ebb", "serve", "builtin:double",
                              "--http-port", str(http), "--grpc-port", str(grpc_port),
                              "--workers", "1", *args.ebb_flags],
                      http, grpc_port, health_path="/v2/health/ready", env=env)


def measure(args: argparse.Namespace, server: ServerProcess, workdir: Path, http: int,
            grpc_port: int) -> dict[str, object]:
    if args.protocol == "rest":
        script = wrk_script(rest_body(), workdir / "request.lua")
        url = f"http://127.0.0.1:{http}/v2/models/double/infer"

        def load(seconds: int) -> LoadResult:
            return run_wrk(Load(url, args.connections, seconds, args.client_cpu), script)
    else:
        body = workdir / "double.grpc"
        body.write_bytes(grpc_frame(grpc_request("double").SerializeToString()))
        url = f"http://127.0.0.1:{grpc_port}{GRPC_PATH}"

        def load(seconds: int) -> LoadResult:
            return run_h2load(Load(url, args.connections, seconds, args.client_cpu), body,
                              workdir / "h2load.log", GRPC_MIN_ANSWER_BYTES)
    load(2)  # warm-up
    raw = workdir / "spy.txt"
    spy = None
    if args.py_spy:
        spy = subprocess.Popen(
            [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(server.pid),
             "--rate", str(args.rate), "--duration", str(args.duration), "--nonblocking",
             "--format", "raw", "--output", str(raw)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    before, started = usage(server), time.monotonic()
    result = load(args.duration)
    after, elapsed = usage(server), time.monotonic() - started
    if spy is not None:
        spy.wait(timeout=60)
        if args.json and raw.exists():
            args.json.with_suffix(".py-spy.txt").write_text(raw.read_text())
    requests = max(result.requests, 1)
    per_process = {name: (seconds - before.processes.get(pid, (name, 0.0))[1]) / requests * 1e6
                   for pid, (name, seconds) in after.processes.items()}
    thread_us = sorted(((seconds - before.threads.get(tid, 0.0)) / requests * 1e6
                        for tid, seconds in after.threads.items()), reverse=True)
    return {"protocol": args.protocol, "connections": args.connections,
            "rps": result.rps, "p99_ms": result.p99_ms, "errors": result.errors,
            "elapsed_s": elapsed, "us_per_request": per_process,
            "gateway_threads_us": [round(us, 1) for us in thread_us if us >= 0.5],
            "loop_phases": dict(phases_of(raw))}


def render(figures: dict[str, object], args: argparse.Namespace) -> str:
    per_process = figures["us_per_request"]
    assert isinstance(per_process, dict)
    lines = [f"{args.protocol.upper()} c{args.connections}: {figures['rps']:,.0f} req/s "
             f"(noisy), p99 {figures['p99_ms']:.1f} ms, errors {figures['errors']}",
             "", "| process | µs CPU / request |", "|---|---:|"]
    lines += [f"| {name} | {us:.0f} |" for name, us in per_process.items()]
    lines.append(f"| **all** | **{sum(per_process.values()):.0f}** |")
    lines.append(f"\ngateway threads, µs / request: {figures['gateway_threads_us']}")
    phases = figures["loop_phases"]
    assert isinstance(phases, dict)
    threads = figures["gateway_threads_us"]
    assert isinstance(threads, list)
    if phases and threads:
        total = sum(phases.values())
        loop_us = threads[0]
        lines += ["", f"loop thread ({loop_us:.0f} µs / request) by phase (py-spy, "
                  f"{total} samples):", "", "| phase | share | µs / request |", "|---|---:|---:|"]
        for phase, count in sorted(phases.items(), key=lambda item: -item[1]):
            lines.append(f"| {phase} | {count / total:.0%} | {loop_us * count / total:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
