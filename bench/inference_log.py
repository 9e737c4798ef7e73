"""What the inference log costs: REST c64 req/s with the log off, on (metadata) and on (full
payloads), for SQLite and PostgreSQL, side by side in one run.

    .venv/bin/python bench/inference_log.py            # 3 interleaved rounds, ~4 minutes
    .venv/bin/python bench/inference_log.py --rounds 1 --duration 5

Same request and pinning as ``bench/serving.py``: ``ebb serve builtin:double`` (one worker) on
CPU 0, wrk (one thread, 64 connections, closed loop) on CPU 1. SQLite runs inside the server, so
its cost lands on CPU 0; the PostgreSQL cluster (a throw-away one, made with initdb) stands for a
database on another machine and is pinned to CPU 1 with wrk. Each round runs every
configuration once, in turn, each round starting one configuration later; the table gives
medians (and ranges) over the rounds, and the cost against "off" from the medians. A second
table gives the log path's CPU per request measured in process (``log_path_cpu_us``), steadier
than req/s on a shared machine. Writes both to stdout and ``bench/results/``.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from _serving_load import Load, LoadResult, run_wrk, wrk_script  # noqa: E402
from _serving_procs import (  # noqa: E402
    ServerProcess,
    ServerSpec,
    cpu_seconds_of_others,
    cpu_share_of_others,
    ensure_tool,
    free_port,
)

from tests.inference_log._postgres import (  # noqa: E402
    PostgresCluster,
    create_cluster,
    destroy_cluster,
)

RESULTS = BENCH / "results"
BODY = ('{"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"FP32","data":'
        '[0.0,0.5,1.0,1.5,2.0,2.5,3.0,3.5,4.0,4.5,5.0,5.5,6.0,6.5,7.0,7.5]}]}')
TARGETS = {"none": 0.10, "full": 0.25}


@dataclass(frozen=True)
class Measured:
    load: LoadResult
    others_cpu: float
    dropped: float
    cpu_us_per_request: float
    """Server CPU time (gateway and workers) per answered request."""


@dataclass(frozen=True)
class Config:
    name: str
    engine: str | None
    payloads: str


CONFIGS = (Config("off", None, "none"),
           Config("SQLite, metadata", "sqlite", "none"),
           Config("SQLite, full payloads", "sqlite", "full"),
           Config("PostgreSQL, metadata", "postgresql", "none"),
           Config("PostgreSQL, full payloads", "postgresql", "full"))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    return parser.parse_args()


def log_url(config: Config, workdir: Path, cluster: PostgresCluster, run: int) -> str | None:
    if config.engine == "sqlite":
        return f"sqlite:///{workdir / f'log-{run}.db'}"  # a temporary directory
    if config.engine == "postgresql":
        return cluster.new_database()
    return None


def measure(config: Config, url: str | None, args: argparse.Namespace, workdir: Path,
            run: int) -> Measured:
    http = free_port()
    argv = [sys.executable, "-m", "ebb", "serve", "builtin:double", "--http-port", str(http),
            "--grpc-port", str(free_port()), "--workers", "1"]
    if url is not None:
        argv += ["--inference-log", url, "--inference-log-payloads", config.payloads]
    spec = ServerSpec("Ebb", argv, http, None, health_path="/v2/health/ready")
    script = wrk_script(BODY, workdir / "request.lua")
    target = f"http://127.0.0.1:{http}/v2/models/double/infer"
    with ServerProcess(spec, 0, workdir / f"server-{run}.log") as server:
        server.wait_ready(90)
        run_wrk(Load(target, args.connections, args.warmup, 1), script)
        before, started = cpu_seconds_of_others(), time.monotonic()
        spent = _server_cpu_s(server)
        result = run_wrk(Load(target, args.connections, args.duration, 1), script)
        spent = _server_cpu_s(server) - spent
        others = cpu_share_of_others(before, cpu_seconds_of_others(), time.monotonic() - started)
        dropped = _dropped(http)
    return Measured(result, others, dropped, spent / max(result.requests, 1) * 1e6)


def _server_cpu_s(server: ServerProcess) -> float:
    """CPU seconds used so far by the server and its workers: unlike req/s, not diluted by
    whatever else the shared machine runs."""
    total = 0.0
    for process in server.processes():
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _dropped(port: int) -> float:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("ebb_inference_log_dropped_total "):
                return float(line.split()[1])
    return 0.0


def log_path_cpu_us(url: str, records: int = 20_000, batch: int = 400) -> float:
    """CPU per logged request of the log's own path, in this process (pinned like the server):
    record, hook, rows and the store's write, in batches as the writer makes them. Unlike the
    server's req/s, hardly moved by what else the machine runs; the database server's own CPU
    (PostgreSQL's backend) is not in it."""
    import asyncio

    import numpy as np

    from ebb.core.dispatch import InferenceRecord
    from ebb.core.types import InferRequest, InferResponse, Tensor
    from ebb.inference_log.store import open_store
    from ebb.inference_log.url import parse_database_url
    from ebb.inference_log.writer import InferenceLog, LogOptions

    data = np.arange(16, dtype="<f4").reshape(1, 16)
    request = InferRequest("double", (Tensor("INPUT0", "FP32", data),))
    response = InferResponse("double", "1", (Tensor("OUTPUT0", "FP32", data * 2),))

    def record() -> InferenceRecord:
        return InferenceRecord(request, response, None, 200, time.time(), 0.001, 0.002, 0.003,
                               4, "rest", None)

    async def logged(log: InferenceLog, count: int) -> None:
        target = log.written + count
        for _ in range(count):
            log.hook(record())
        while log.written < target:
            await asyncio.sleep(0.005)  # waiting costs no CPU time

    async def run() -> float:
        log = InferenceLog(open_store(parse_database_url(url)),
                           LogOptions("none", 1.0, records, 0.0, batch_size=batch,
                                      flush_interval_s=0.005), "bench")
        stopping = asyncio.Event()
        writer = asyncio.create_task(log.run(stopping))
        await logged(log, batch)  # connects and migrates: not counted
        started = time.process_time()
        for _ in range(records // batch):
            await logged(log, batch)
        spent = time.process_time() - started
        stopping.set()
        await writer
        await log.close()
        return spent / (records // batch * batch) * 1e6

    return asyncio.run(run())


def pin_postgres(cluster: PostgresCluster, cpu: int) -> None:
    """The postmaster and every backend it forks later run on ``cpu``, at nice 10: standing for
    a database on another machine, it must not take CPU from the load generator beside it
    (which would then send fewer requests, charging the server for the database's work)."""
    leader = int((cluster.data / "postmaster.pid").read_text().split()[0])
    for process in [psutil.Process(leader), *psutil.Process(leader).children(recursive=True)]:
        process.cpu_affinity([cpu])
        process.nice(10)


def render(results: dict[str, list[Measured]], args: argparse.Namespace) -> str:
    base = statistics.median(m.load.rps for m in results["off"])
    base_cpu = statistics.median(m.cpu_us_per_request for m in results["off"])
    lines = [f"REST c{args.connections}, {args.rounds} interleaved round(s) of {args.duration} s, "
             "server on CPU 0, wrk (and PostgreSQL) on CPU 1; medians, range in brackets. "
             "CPU/request: the server's (gateway + worker) CPU time per answered request.", "",
             "| inference log | req/s | cost vs off | target | CPU us/request | CPU cost vs off "
             "| p50 ms | p99 ms | dropped | errors | others' CPU |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for config in CONFIGS:
        runs = results[config.name]
        rps = [m.load.rps for m in runs]
        cpu = statistics.median(m.cpu_us_per_request for m in runs)
        cost = 1 - statistics.median(rps) / base
        logged = config.engine is not None
        target = f"<= {TARGETS[config.payloads]:.0%}" if logged else ""
        if logged:
            target += " ok" if cost <= TARGETS[config.payloads] else " MISSED"
        lines.append(
            f"| {config.name} | {statistics.median(rps):,.0f} ({min(rps):,.0f} to "
            f"{max(rps):,.0f}) | {f'{cost:+.1%}' if logged else '-'} | {target} | {cpu:.0f} | "
            f"{f'{cpu / base_cpu - 1:+.1%}' if logged else '-'} | "
            f"{statistics.median(m.load.p50_ms for m in runs):.2f} | "
            f"{statistics.median(m.load.p99_ms for m in runs):.2f} | "
            f"{sum(m.dropped for m in runs):,.0f} | {sum(m.load.errors for m in runs)} | "
            f"{max(m.others_cpu for m in runs):.2f} |")
    return "\n".join(lines)


def render_path(path_us: dict[str, float], results: dict[str, list[Measured]]) -> str:
    """The in-process cost of the log's path (metadata capture) against the server's CPU per
    request with the log off: what logging costs a CPU-bound server, from two steadier
    figures than req/s."""
    base = statistics.median(m.cpu_us_per_request for m in results["off"])
    lines = ["| log path, metadata (in process) | CPU us/request | share of 'off' server CPU |",
             "|---|---:|---:|"]
    lines += [f"| {engine} | {spent:.1f} | {spent / base:.1%} |"
              for engine, spent in path_us.items()]
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    # started in the background, Python ignores SIGINT; either signal must still clean up
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    ensure_tool("wrk", "wrk")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = RESULTS / f"inference-log-{stamp}"
    workdir.mkdir(parents=True, exist_ok=True)
    databases = Path(tempfile.mkdtemp(prefix="ebb-bench-log-"))
    cluster = create_cluster()
    results: dict[str, list[Measured]] = {c.name: [] for c in CONFIGS}
    path_us: dict[str, float] = {}
    try:
        pin_postgres(cluster, 1)
        affinity = psutil.Process().cpu_affinity()
        psutil.Process().cpu_affinity([0])  # the log path where the server runs
        path_us = {"SQLite": log_path_cpu_us(f"sqlite:///{databases / 'path.db'}"),
                   "PostgreSQL": log_path_cpu_us(cluster.new_database())}
        psutil.Process().cpu_affinity(affinity)
        for round_number in range(args.rounds):
            # each round starts one configuration later, so none always follows the same one:
            # what the previous one left behind (the cluster's clean-up after bulk writes, on
            # wrk's CPU) falls on each in turn
            shift = round_number % len(CONFIGS)
            for index, config in enumerate(CONFIGS[shift:] + CONFIGS[:shift]):
                run = round_number * len(CONFIGS) + index
                url = log_url(config, databases, cluster, run)
                measured = measure(config, url, args, workdir, run)
                results[config.name].append(measured)
                print(f"round {round_number + 1}: {config.name}: {measured.load.rps:,.0f} req/s, "
                      f"{measured.cpu_us_per_request:.0f} us CPU/request", flush=True)
    finally:
        destroy_cluster(cluster)
        shutil.rmtree(databases, ignore_errors=True)
    table = render(results, args) + "\n\n" + render_path(path_us, results)
    print(table)
    (RESULTS / f"inference-log-{stamp}.md").write_text(
        f"# Inference log overhead, {stamp}\n\nCommand: `.venv/bin/python bench/inference_log.py "
        f"{' '.join(sys.argv[1:])}`\n\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
