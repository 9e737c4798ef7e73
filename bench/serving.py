"""Ebb vs NVIDIA Triton 2.51 and KServe 0.21, side by side in one run: REST, gRPC, batching.

Usage: ``make bench-serving`` (runs ``.venv/bin/python bench/serving.py``); ``--help`` lists the
flags (``--duration``, ``--connections``, ``--only ebb|triton|kserve|raw``,
``--skip-kserve-install``, ``--skip-triton-install``...).

What runs, one server at a time, each pinned to CPU 0 (workers inherit the pinning) while the
load generator runs on CPU 1, closed loop, one request in flight per connection:

- ``double`` (FP32 [1,16] -> x2) over REST, with wrk: Ebb (``ebb serve builtin:double``), Triton
  2.51 with the same model in its python backend (``bench/triton_setup.py``: dynamic batching, no
  queue delay), KServe (``bench/kserve_double.py``: its FastAPI app under uvicorn on 127.0.0.1,
  per-request logging off), a raw uvicorn+httptools+orjson ASGI app (``bench/raw_asgi.py``)
  and a lean Python path with a queue and a batcher but no ASGI (``bench/raw_protocol.py``);
- ``double`` over gRPC, with h2load posting ``ModelInfer`` frames: Ebb, Triton, KServe and a bare
  grpc.aio handler (``bench/raw_grpc.py``), the bound under Ebb and KServe (both build on it);
- ``batching``: a model costing 2 ms + 0.05 ms per row, REST at c64: Ebb with dynamic batching
  (``builtin:sleep``, batches of up to 64, 2 ms delay cap), Triton's python backend with dynamic
  batching (up to 64, no delay) and KServe, which has no batcher in its Python server, so it
  pays the 2 ms for every request.

The machine may be shared: before each server the script waits for both CPUs to be idle, counts
the CPU time other processes take during each row, and measures a disturbed row again. Its speed
also drifts: ``--rounds N`` repeats everything and reports medians with the range.

Every server's answer is checked once per protocol before its numbers count (a real gRPC client
for gRPC). KServe lives in its own venv, ``bench/.venv-kserve`` (created on first run): KServe,
tritonclient and Ebb each register the ``inference`` proto package, so no two share a process.
Triton lives in ``bench/.venv-triton`` (``bench/triton_setup.py`` creates it and writes its
model repository).
Prints a markdown table, writes it to ``bench/results/serving-<timestamp>.md`` with the server
logs next to it, and with ``--update-readme`` puts it into ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc
import triton_setup
from _serving_args import ebb_double_flags, parse_args
from _serving_checks import (
    GRPC_MIN_ANSWER_BYTES,
    GRPC_PATH,
    check_grpc,
    check_rest,
    grpc_request,
    rest_body,
)
from _serving_load import (
    Load,
    LoadResult,
    grpc_frame,
    run_h2load,
    run_wrk,
    wrk_script,
)
from _serving_machine import cpu_model, ebb_revision, tool_version
from _serving_procs import (
    ServerProcess,
    ServerSpec,
    cpu_seconds_of_others,
    cpu_share_of_others,
    ensure_kserve_venv,
    ensure_tool,
    kserve_version,
    wait_for_quiet,
)
from _serving_report import (
    EBB_BEFORE,
    QUIET_THRESHOLD,
    RAW_ASGI,
    RAW_GRPC,
    RAW_PROTOCOL,
    TRITON,
    Case,
    Row,
    combine_rounds,
    render_table,
    target_lines,
)
from _serving_specs import (
    PER_ITEM_MS,
    SLEEP_MS,
    Triton,
    ebb_spec,
    kserve_spec,
    raw_asgi_spec,
    raw_grpc_spec,
    raw_protocol_spec,
    triton_spec,
)

from ebb import __version__ as ebb_version

BENCH = Path(__file__).resolve().parent
KSERVE_VENV = BENCH / ".venv-kserve"
KSERVE_REQUIREMENT = "kserve>=0.21,<0.22"
RESULTS = BENCH / "results"
README = BENCH / "README.md"
README_START, README_END = "<!-- serving-results:start -->", "<!-- serving-results:end -->"

BATCHING = {"max_batch_size": 64, "max_batch_delay_ms": 2.0}
READY_TIMEOUT_S = 90.0

LoadRunner = Callable[[Load], LoadResult]


@dataclass(frozen=True)
class Others:
    """The servers Ebb is compared with, where this run includes them."""

    kserve_python: Path | None
    triton: Triton | None


@dataclass(frozen=True)
class Bench:
    """Settings of this run, validated once from the command line."""

    duration_s: int
    warmup_s: int
    connections: tuple[int, ...]
    batching_connections: int
    servers: frozenset[str]
    runs: frozenset[str]
    server_cpu: int
    client_cpu: int
    ebb_flags: tuple[str, ...]
    wait_idle_s: float
    retries: int
    rounds: int
    workdir: Path
    logs: Path
    baseline: Path | None


def build_bench(args: argparse.Namespace, workdir: Path, logs: Path) -> Bench:
    cpus = os.sched_getaffinity(0)
    for flag, cpu in (("--server-cpu", args.server_cpu), ("--client-cpu", args.client_cpu)):
        if cpu not in cpus:
            raise SystemExit(f"{flag} {cpu}: not among this process's CPUs {sorted(cpus)}")
    if args.server_cpu == args.client_cpu:
        raise SystemExit("--server-cpu and --client-cpu must differ")
    if args.duration < 1 or args.warmup < 0 or args.rounds < 1:
        raise SystemExit("--duration and --rounds must be at least 1, --warmup at least 0")
    return Bench(duration_s=args.duration, warmup_s=args.warmup,
                 connections=tuple(args.connections),
                 batching_connections=args.batching_connections,
                 servers=frozenset(args.only or ["ebb", "triton", "kserve", "raw"]),
                 runs=frozenset(args.run or ["rest", "grpc", "batching"]),
                 server_cpu=args.server_cpu, client_cpu=args.client_cpu,
                 ebb_flags=ebb_double_flags(args), wait_idle_s=args.wait_idle, retries=args.retries,
                 rounds=args.rounds,
                 workdir=workdir, logs=logs, baseline=args.baseline_src)


# --- measuring -------------------------------------------------------------------------------

def measure(bench: Bench, case: Case, spec: ServerSpec, model: str) -> LoadResult:
    if case.protocol == "REST":
        assert spec.http_port is not None
        url = f"http://127.0.0.1:{spec.http_port}/v2/models/{model}/infer"
        script = wrk_script(rest_body(), bench.workdir / "request.lua")
        return _warm_then_measure(bench, url, case, lambda load: run_wrk(load, script))
    assert spec.grpc_port is not None
    body = bench.workdir / f"{model}.grpc"
    body.write_bytes(grpc_frame(grpc_request(model).SerializeToString()))
    url = f"http://127.0.0.1:{spec.grpc_port}{GRPC_PATH}"
    log = bench.workdir / "h2load.log"
    result = _warm_then_measure(bench, url, case,
                                lambda load: run_h2load(load, body, log, GRPC_MIN_ANSWER_BYTES))
    check_grpc(spec.grpc_port, model)  # still answering correctly after the load
    return result


def _warm_then_measure(bench: Bench, url: str, case: Case, run_load: LoadRunner) -> LoadResult:
    if bench.warmup_s:
        run_load(Load(url, case.connections, bench.warmup_s, bench.client_cpu))
    return run_load(Load(url, case.connections, bench.duration_s, bench.client_cpu))


def measure_row(bench: Bench, case: Case, spec: ServerSpec, model: str) -> Row:
    """``measure``, and how much CPU processes outside this benchmark took meanwhile."""
    before, started = cpu_seconds_of_others(), time.monotonic()
    result = measure(bench, case, spec, model)
    others = cpu_share_of_others(before, cpu_seconds_of_others(), time.monotonic() - started)
    return Row(case, result, others)


def measure_quietly(bench: Bench, case: Case, spec: ServerSpec, model: str) -> Row:
    """``measure_row``, again (up to ``bench.retries`` times) when other work disturbed it."""
    row = measure_row(bench, case, spec, model)
    for _ in range(bench.retries):
        if row.others_cpu <= QUIET_THRESHOLD:
            break
        print(f"  {case.protocol} c{case.connections}: other processes used "
              f"{row.others_cpu:.2f} CPU meanwhile ({row.result.rps:,.0f} req/s); measuring again",
              flush=True)
        wait_for_quiet([bench.server_cpu, bench.client_cpu], QUIET_THRESHOLD, bench.wait_idle_s)
        row = measure_row(bench, case, spec, model)
    return row


def serve_and_measure(bench: Bench, spec: ServerSpec, model: str, cases: Sequence[Case]
                      ) -> list[Row]:
    """Start one server, check its answers, measure every case on it, stop it."""
    if not cases:
        return []
    slug = f"{spec.name}-{model}".replace(" ", "-").lower()
    busy = wait_for_quiet([bench.server_cpu, bench.client_cpu], QUIET_THRESHOLD,
                          bench.wait_idle_s)
    if busy > QUIET_THRESHOLD:
        print(f"  going on although the CPUs are {busy:.0%} busy with other work", flush=True)
    with ServerProcess(spec, bench.server_cpu, bench.logs / f"{slug}.log") as server:
        server.wait_ready(READY_TIMEOUT_S)
        if spec.http_port is not None:
            check_rest(spec.http_port, model)
        if spec.grpc_port is not None:
            check_grpc(spec.grpc_port, model)
        print(f"\n{spec.name} serving {model}: answers checked; {server.pinning()}", flush=True)
        rows = []
        for case in cases:
            try:
                row = measure_quietly(bench, case, spec, model)
            except (RuntimeError, OSError, grpc.RpcError) as error:
                # A server that crashed under load (Triton 2.51's gRPC front has, once) costs
                # its remaining rows, not the run.
                detail = f"server failed: {str(error).splitlines()[0][:120]}"
                row = Row(case, LoadResult(0, 0.0, math.nan, math.nan, 1, detail), 0.0)
            rows.append(row)
            result = row.result
            print(f"  {case.protocol:4} c{case.connections:<3} {result.rps:>10,.0f} req/s  "
                  f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  "
                  f"errors {result.errors} {result.error_detail}  "
                  f"others' CPU {row.others_cpu:.2f}", flush=True)
        return rows


def cases_for(bench: Bench, run: str, server: str) -> list[Case]:
    if run == "batching":
        if "batching" not in bench.runs or server in (RAW_ASGI, RAW_GRPC, RAW_PROTOCOL):
            return []
        return [Case("batching", server, "REST", bench.batching_connections)]
    protocols = [p for p, key in (("REST", "rest"), ("gRPC", "grpc")) if key in bench.runs]
    if server in (RAW_ASGI, RAW_GRPC, RAW_PROTOCOL):
        protocols = [p for p in protocols if p == ("gRPC" if server == RAW_GRPC else "REST")]
    return [Case("double", server, protocol, connections)
            for protocol in protocols for connections in bench.connections]


def run_all(bench: Bench, others: Others) -> list[Row]:
    rows: list[Row] = []
    kserve_python, triton = others.kserve_python, others.triton
    sleep_model = f"builtin:sleep?ms={SLEEP_MS:g}&per_item_ms={PER_ITEM_MS:g}"
    batching_flags = ("--workers", "1", "--max-batch-size", str(BATCHING["max_batch_size"]),
                      "--max-batch-delay-ms", str(BATCHING["max_batch_delay_ms"]))
    if "ebb" in bench.servers:
        rows += serve_and_measure(bench, ebb_spec("builtin:double", bench.ebb_flags), "double",
                                  cases_for(bench, "double", "Ebb"))
    if bench.baseline is not None:
        rows += serve_and_measure(bench, ebb_spec("builtin:double", bench.ebb_flags,
                                                  bench.baseline),
                                  "double", cases_for(bench, "double", EBB_BEFORE))
    if triton is not None:
        rows += serve_and_measure(bench, triton_spec(triton), "double",
                                  cases_for(bench, "double", TRITON))
    if kserve_python is not None:
        rows += serve_and_measure(bench, kserve_spec(kserve_python, "double"), "double",
                                  cases_for(bench, "double", "KServe"))
    if "raw" in bench.servers:
        rows += serve_and_measure(bench, raw_asgi_spec(), "double",
                                  cases_for(bench, "double", RAW_ASGI))
        rows += serve_and_measure(bench, raw_protocol_spec(), "double",
                                  cases_for(bench, "double", RAW_PROTOCOL))
        rows += serve_and_measure(bench, raw_grpc_spec(), "double",
                                  cases_for(bench, "double", RAW_GRPC))
    if "ebb" in bench.servers:
        rows += serve_and_measure(bench, ebb_spec(sleep_model, batching_flags), "sleep",
                                  cases_for(bench, "batching", "Ebb"))
    if bench.baseline is not None:
        rows += serve_and_measure(bench, ebb_spec(sleep_model, batching_flags, bench.baseline),
                                  "sleep", cases_for(bench, "batching", EBB_BEFORE))
    if triton is not None:
        rows += serve_and_measure(bench, triton_spec(triton), "sleep",
                                  cases_for(bench, "batching", TRITON))
    if kserve_python is not None:
        rows += serve_and_measure(bench, kserve_spec(kserve_python, "sleep"), "sleep",
                                  cases_for(bench, "batching", "KServe"))
    return rows


def run_rounds(bench: Bench, others: Others) -> list[list[Row]]:
    rounds = []
    for number in range(1, bench.rounds + 1):
        if bench.rounds > 1:
            print(f"\n=== round {number} of {bench.rounds}", flush=True)
        rounds.append(run_all(bench, others))
    return rounds


# --- report ----------------------------------------------------------------------------------

def machine_lines(bench: Bench, others: Others) -> list[str]:
    kserve = kserve_version(others.kserve_python) if others.kserve_python else None
    triton = f"nvidia-pytriton {others.triton.version}" if others.triton else "not run"
    return [
        f"- machine: {os.cpu_count()} CPUs ({cpu_model()}), Linux {platform.release()}, "
        f"Python {platform.python_version()}",
        f"- pinning: every server process on CPU {bench.server_cpu} (`taskset`, workers "
        f"inherit it), the load generator on CPU {bench.client_cpu}, one thread",
        "- others' CPU: CPUs' worth of time that processes outside the benchmark used during "
        "a row (the machine may be shared); before each server the script waits for both CPUs "
        f"to be idle, and measures a disturbed row again (up to {bench.retries} times)",
        f"- load: closed loop, {bench.duration_s} s per row after {bench.warmup_s} s of warm-up, "
        f"{bench.rounds} round(s) (more than one: medians, and the range of req/s); "
        f"{tool_version(['wrk', '--version'])}; {tool_version(['h2load', '--version'])}",
        f"- Ebb {ebb_version} ({ebb_revision()}) double: "
        f"`ebb serve builtin:double {' '.join(bench.ebb_flags)}`; "
        f"batching: `ebb serve 'builtin:sleep?ms={SLEEP_MS:g}&per_item_ms={PER_ITEM_MS:g}' "
        f"--workers 1 --max-batch-size {BATCHING['max_batch_size']} "
        f"--max-batch-delay-ms {BATCHING['max_batch_delay_ms']:g}`",
        f"- KServe {kserve or 'not run'}: one process, asyncio's default event loop (as "
        "`ModelServer.start()`), REST and gRPC on 127.0.0.1, "
        "no access log, no latency log, `kserve` loggers at WARNING; batching run: "
        "`time.sleep(2 ms + 0.05 ms x rows)` per request (no batcher in KServe's Python server)",
        f"- Triton 2.51 ({triton}, `bench/triton_setup.py`): `tritonserver` on 127.0.0.1, the "
        "same models in its python backend, one CPU instance each, dynamic batching up to "
        f"{triton_setup.MAX_BATCH} with no queue delay (a batch's requests concatenated, run "
        "once, split back); batching run: `time.sleep(2 ms + 0.05 ms x rows)` per batch",
    ]


def render_report(bench: Bench, rows: Sequence[Row], others: Others, command: str) -> str:
    parts = [f"Command: `{command}`", "", render_table(rows), "",
             "Targets (issue 15):", *target_lines(rows, bench.connections,
                                                  bench.batching_connections), "",
             "Setup:", *machine_lines(bench, others)]
    return "\n".join(parts) + "\n"


def update_readme(report: str, stamp: str) -> None:
    text = README.read_text() if README.exists() else ""
    if README_START not in text or README_END not in text:
        print(f"{README} has no {README_START} ... {README_END} markers: not updated")
        return
    head, rest = text.split(README_START, 1)
    _old, tail = rest.split(README_END, 1)
    block = f"{README_START}\nMeasured {stamp}.\n\n{report}{README_END}"
    README.write_text(head + block + tail)
    print(f"updated {README}")


# --- main ------------------------------------------------------------------------------------

def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def prepare_tools(bench: Bench, install_kserve: bool, install_triton: bool) -> Others:
    if bench.runs & {"rest", "batching"}:
        ensure_tool("wrk", "wrk")
    if "grpc" in bench.runs:
        ensure_tool("h2load", "nghttp2-client")
    kserve_python = None
    if "kserve" in bench.servers:
        kserve_python = ensure_kserve_venv(KSERVE_VENV, KSERVE_REQUIREMENT, "0.21",
                                           install_kserve)
    triton = None
    if "triton" in bench.servers:
        python = triton_setup.ensure_venv(install_triton)
        triton = Triton(triton_setup.prepare(python),
                        triton_setup.write_repository(bench.workdir / "triton-models"),
                        triton_setup.version_of(python))
    return Others(kserve_python, triton)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv, __doc__.splitlines()[0])
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    logs = RESULTS / f"serving-{stamp}-logs"
    logs.mkdir()
    flags = list(argv if argv is not None else sys.argv[1:])
    command = " ".join([".venv/bin/python bench/serving.py", *flags])
    with tempfile.TemporaryDirectory(prefix="ebb-bench-") as workdir:
        bench = build_bench(args, Path(workdir), logs)
        others = prepare_tools(bench, install_kserve=not args.skip_kserve_install,
                               install_triton=not args.skip_triton_install)
        os.sched_setaffinity(0, {bench.client_cpu})  # keep this script off the server's CPU
        try:
            rounds = run_rounds(bench, others)
        except KeyboardInterrupt:
            print("\ninterrupted: servers stopped", file=sys.stderr)
            return 130
        report = render_report(bench, combine_rounds(rounds), others, command.strip())
    print("\n" + report)
    result_file = RESULTS / f"serving-{stamp}.md"
    result_file.write_text(f"# Serving benchmark {stamp}\n\n{report}")
    raw_file = result_file.with_suffix(".json")
    raw_file.write_text(json.dumps([[asdict(row) for row in rows] for rows in rounds], indent=1))
    print(f"written to {result_file}, every round's rows to {raw_file.name} (server logs in "
          f"{logs})")
    if args.update_readme:
        update_readme(report, stamp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
