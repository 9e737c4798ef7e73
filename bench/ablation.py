"""What Ebb's per-request bookkeeping costs: the REST double run with parts switched off.

Each configuration is one ``ebb serve builtin:double --workers 1`` (through
``bench/ablated_ebb.py``) pinned to CPU 0 and loaded closed loop by wrk on CPU 1; the rounds
interleave the configurations. Reported: req/s and the server's CPU per request (all its
processes, read from ``/proc``), medians over the rounds, and each against the full server.

Usage::

    .venv/bin/python bench/ablation.py --rounds 3 --duration 5 --connections 64
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from _serving_load import Load, run_wrk, wrk_script
from _serving_procs import ServerProcess, ServerSpec, free_port
from serving import rest_body
from serving_cpu import usage

BENCH = Path(__file__).resolve().parent
CONFIGURATIONS = ("none", "metrics", "statistics", "recording", "metrics,statistics,recording")


def measure(parts: str, args: argparse.Namespace, workdir: Path) -> tuple[float, float]:
    """(req/s, µs of server CPU per request) of one configuration."""
    http, grpc_port = free_port(), free_port()
    argv = [sys.executable, str(BENCH / "ablated_ebb.py"), "--ablate", parts, "serve",
            "builtin:double", "--workers", "1", "--http-port", str(http), "--grpc-port",
            str(grpc_port)]
    spec = ServerSpec("Ebb", argv, http, grpc_port, health_path="/v2/health/ready")
    script = wrk_script(rest_body(), workdir / "request.lua")
    url = f"http://127.0.0.1:{http}/v2/models/double/infer"
    log = workdir / f"ebb-{parts.replace(',', '+')}.log"
    with ServerProcess(spec, args.server_cpu, log) as server:
        server.wait_ready(120)
        run_wrk(Load(url, args.connections, 1, args.client_cpu), script)  # warm-up
        before = usage(server)
        result = run_wrk(Load(url, args.connections, args.duration, args.client_cpu), script)
        after = usage(server)
    cpu = sum(seconds - before.processes.get(pid, (name, 0.0))[1]
              for pid, (name, seconds) in after.processes.items())
    return result.rps, cpu / max(result.requests, 1) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    args = parser.parse_args()
    figures: dict[str, list[tuple[float, float]]] = {parts: [] for parts in CONFIGURATIONS}
    with tempfile.TemporaryDirectory(prefix="ebb-ablation-") as temp:
        for round_number in range(1, args.rounds + 1):
            for parts in CONFIGURATIONS:
                rps, cpu_us = measure(parts, args, Path(temp))
                figures[parts].append((rps, cpu_us))
                print(f"round {round_number}: off={parts:<30} {rps:>8,.0f} req/s  "
                      f"{cpu_us:6.0f} µs CPU/request", flush=True)
    full_rps = statistics.median(rps for rps, _ in figures["none"])
    full_cpu = statistics.median(cpu for _, cpu in figures["none"])
    print(f"\nREST c{args.connections}, medians of {args.rounds} interleaved rounds\n")
    print("| switched off | req/s | vs full | µs CPU / request | saved µs |")
    print("|---|---:|---:|---:|---:|")
    for parts in CONFIGURATIONS:
        rps = statistics.median(r for r, _ in figures[parts])
        cpu = statistics.median(c for _, c in figures[parts])
        print(f"| {parts.replace(',', ' + ')} | {rps:,.0f} | {rps / full_rps:.2f}x | {cpu:.0f} | "
              f"{full_cpu - cpu:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
