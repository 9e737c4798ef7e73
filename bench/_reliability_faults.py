"""Load and operator faults for ``bench/reliability.py``: 10x overload on REST and gRPC, workers
killed with ``kill -9`` under load, scale-in under load, and SIGTERM with queued work.

Every experiment counts the requests the server accepted (not refused at once with 503 +
Retry-After) and did not answer with success: the target is 0 in each.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import threading
import time
import urllib.error
import urllib.request

from _reliability_load import (
    GrpcTarget,
    RestTarget,
    Send,
    Shot,
    infer_body,
    infer_message,
    open_loop,
    tally,
)
from _reliability_procs import Bench, Server
from _reliability_report import Row, ms

SLEEP_MS = 20
ONE_WORKER_RATE = 1000 / SLEEP_MS
OVERLOAD_MS = 50.0
SATURATION_RATE = 600.0
_SCALING = re.compile(r"INFO ebb\.autoscale: model sleep: \S+ (\d+) -> (\d+)")


def _targets(server: Server, model: str, values: list[float]) -> tuple[RestTarget, GrpcTarget]:
    return (RestTarget(server.http_port, f"/v2/models/{model}/infer", infer_body(values)),
            GrpcTarget(server.grpc_target, infer_message(model, values)))


async def _load(server: Server, model: str, plan: list[tuple[str, float, float]],
                bench: Bench) -> list[Shot]:
    """Run each (protocol, rate, seconds) part of ``plan`` at once; the shots of all."""
    rest, grpc_target = _targets(server, model, [1.0] * 16)
    sends: dict[str, Send] = {"REST": rest.send, "gRPC": grpc_target.send}

    def progress(elapsed: float) -> None:
        if int(elapsed) % 5 == 0:
            bench.say(f"  ... {elapsed:.0f} s")

    parts = [open_loop(sends[protocol], rate, seconds, progress if index == 0 else None)
             for index, (protocol, rate, seconds) in enumerate(plan)]
    try:
        return [shot for shots in await asyncio.gather(*parts) for shot in shots]
    finally:
        rest.close()
        await grpc_target.close()


def overload(bench: Bench) -> list[Row]:
    """10x what the model can serve: the queue must refuse the excess at once and answer the
    rest; the gateway has CPU to spare."""
    rate = 10 * 1000 / OVERLOAD_MS
    return _overload(bench, "10x overload", OVERLOAD_MS, rate, bench.pick(30, 6))


def saturation(bench: Bench) -> list[Row]:
    """Arrivals beyond what the gateway's CPU can even refuse (on this shared core): where the
    limit is, and what is lost past it."""
    return _overload(bench, "gateway saturation", OVERLOAD_MS, SATURATION_RATE,
                     bench.pick(10, 4))


def _overload(bench: Bench, label: str, model_ms: float, rate: float,
              seconds: float) -> list[Row]:
    rows = []
    with bench.server(label.replace(" ", "-"), f"builtin:sleep?ms={model_ms:g}", "--workers",
                      "1", "--max-batch-size", "1", "--max-queue-size", "64") as server:
        for protocol in ("REST", "gRPC"):
            bench.say(f"{label} over {protocol}: {rate:.0f} req/s for {seconds:.0f} s")
            rss_before = server.rss_mb()
            cpu_before = server.cpu_s()
            shots = asyncio.run(_load(server, "sleep", [(protocol, rate, seconds)], bench))
            cpu_ms = 1000 * (server.cpu_s() - cpu_before) / max(len(shots), 1)
            time.sleep(1.0)
            rows.append(_overload_row(f"{label}, {protocol}", shots, rate, seconds, model_ms,
                                      (rss_before, server.rss_mb(), cpu_ms)))
            bench.say(f"  {rows[-1].notes[0]}")
    return rows


def _overload_row(name: str, shots: list[Shot], rate: float, seconds: float, model_ms: float,
                  gateway: tuple[float, float, float]) -> Row:
    rss_before, rss_after, cpu_ms = gateway
    t = tally(shots)
    row = Row(name, f"{rate:.0f} req/s for {seconds:.0f} s (one worker serves "
              f"{1000 / model_ms:.0f})", lost=f"{t.lost} of {t.accepted}",
              normal_p99="n/a (every client is load)", server_errors=str(t.lost))
    row.notes.append(
        f"{t.sent} sent, {t.accepted} accepted, {t.answered} answered (p50 {ms(t.p50_ms)}, "
        f"p99 {ms(t.p99_ms)}); {t.refused} refused (503 / UNAVAILABLE; "
        f"{t.refused - t.refused_unhinted} with Retry-After / pushback) in "
        f"{ms(t.refuse_p50_ms)} p50, {ms(t.refuse_p99_ms)} p99; gateway RSS {rss_before:.0f} "
        f"MB before, {rss_after:.0f} MB after, {cpu_ms:.2f} ms of gateway CPU per request; "
        f"`builtin:sleep?ms={model_ms:g}`, queue 64, batching off")
    if t.lost_kinds:
        row.notes.append(f"lost: {dict(t.lost_kinds)}")
    row.failed = t.lost > 0 or t.refused_unhinted > 0 or rss_after - rss_before > 64
    return row


def _killer(server: Server, every_s: float, stop: threading.Event, killed: list[int]) -> None:
    while not stop.wait(every_s):
        pids = server.worker_pids()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])


def kill_workers(bench: Bench) -> list[Row]:
    seconds, rate = bench.pick(20, 4), 60.0
    bench.say(f"kill -9 of a worker every second under {2 * rate:.0f} req/s for {seconds:.0f} s")
    with bench.server("kill9", "builtin:sleep?ms=5", "--workers", "2",
                      "--max-batch-size", "8") as server:
        killed: list[int] = []
        stop = threading.Event()
        thread = threading.Thread(target=_killer, args=(server, 1.0, stop, killed))
        thread.start()
        try:
            shots = asyncio.run(_load(server, "sleep", [("REST", rate, seconds),
                                                        ("gRPC", rate, seconds)], bench))
        finally:
            stop.set()
            thread.join()
        restarts = server.metric('ebb_worker_restarts_total{model="sleep"}')
    t = tally(shots)
    row = Row("kill -9 of workers under load", f"{2 * rate:.0f} req/s (REST + gRPC) for "
              f"{seconds:.0f} s", faults=f"{len(killed)} workers killed",
              lost=f"{t.lost} of {t.accepted}", normal_p99=f"{ms(t.p99_ms)} (the load)",
              server_errors=str(t.lost))
    row.notes.append(f"{t.sent} requests, {t.answered} answered, {t.refused} refused; "
                     f"{restarts:.0f} worker restarts; 2 workers of `builtin:sleep?ms=5`")
    row.failed = t.lost > 0 or t.refused > 0
    bench.say(f"  {row.faults}, lost {row.lost}")
    return [row]


def scale_in(bench: Bench) -> list[Row]:
    high_s, low_s = bench.pick(8, 3), bench.pick(14, 6)
    bench.say(f"scale-in under load: {2.4 * ONE_WORKER_RATE:.0f} req/s for {high_s:.0f} s, "
              f"then {0.3 * ONE_WORKER_RATE:.0f} req/s for {low_s:.0f} s")
    with bench.server("scale-in", f"builtin:sleep?ms={SLEEP_MS}", "--max-batch-size", "1",
                      "--min-workers", "1", "--max-workers", "4", "--autoscale-interval-s",
                      "0.25", "--scale-in-delay-s", "1.5", "--slo-ms", "200") as server:

        async def both() -> list[Shot]:
            high = await _load(server, "sleep", [("REST", 2.4 * ONE_WORKER_RATE, high_s)], bench)
            low = await _load(server, "sleep", [("REST", 0.15 * ONE_WORKER_RATE, low_s),
                                                ("gRPC", 0.15 * ONE_WORKER_RATE, low_s)], bench)
            return high + low

        shots = asyncio.run(both())
        steps = [(int(a), int(b)) for a, b in _SCALING.findall(server.log())]
    ins = [step for step in steps if step[1] < step[0]]
    peak = max([b for _, b in steps], default=1)
    t = tally(shots)
    row = Row("scale-in under load", f"{2.4 * ONE_WORKER_RATE:.0f} then "
              f"{0.3 * ONE_WORKER_RATE:.0f} req/s for {high_s + low_s:.0f} s",
              faults=f"{len(ins)} scale-in steps ({peak} -> {ins[-1][1] if ins else peak})",
              lost=f"{t.lost} of {t.accepted}", normal_p99=f"{ms(t.p99_ms)} (the load)",
              server_errors=str(t.lost))
    row.notes.append(f"autoscaling 1-4 workers of `builtin:sleep?ms={SLEEP_MS}`, scale-in delay "
                     f"1.5 s; decisions {steps}; {t.answered} answered, {t.refused} refused")
    row.failed = t.lost > 0 or not ins
    bench.say(f"  {row.faults}, lost {row.lost}")
    return [row]


def _ready_status(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/v2/health/ready", timeout=2) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def _terminate(server: Server) -> tuple[float, float, int | None]:
    """SIGTERM; (ms until readiness was off, s until exit, exit code)."""
    began = time.monotonic()
    server.terminate()
    while time.monotonic() - began < 5 and _ready_status(server.url) == 200:
        pass
    unready_ms = 1000 * (time.monotonic() - began)
    code = server.wait(60)
    return unready_ms, time.monotonic() - began, code


def sigterm(bench: Bench) -> list[Row]:
    each = int(bench.pick(16, 8))
    drain_s, prestop_s = 20.0, 0.5
    bench.say(f"SIGTERM with {each} REST and {each} gRPC requests queued")
    with bench.server("sigterm", "builtin:chaos?ms=100", "--workers", "1", "--max-batch-size",
                      "1", "--prestop-s", str(prestop_s), "--drain-timeout-s",
                      str(drain_s)) as server:

        async def queued() -> tuple[list[tuple[str, bool]], tuple[float, float, int | None]]:
            targets = [_targets(server, "chaos", [2.0, 0.0]) for _ in range(each)]
            calls = [asyncio.ensure_future(target.send()) for pair in targets for target in pair]
            await asyncio.sleep(0.3)  # all admitted: one runs, the rest wait in the queue
            stopped = await asyncio.get_running_loop().run_in_executor(None, _terminate, server)
            answers = await asyncio.gather(*calls)
            for rest, grpc_target in targets:
                rest.close()
                await grpc_target.close()
            return answers, stopped

        answers, (unready_ms, exit_s, code) = asyncio.run(queued())
        clean = "every accepted request answered" in server.log()
    lost = sum(status not in ("200", "OK") for status, _ in answers)
    row = Row("SIGTERM with queued work", f"{len(answers)} requests queued (REST + gRPC)",
              faults=f"1 SIGTERM (unready in {unready_ms:.0f} ms, exit {code} after "
              f"{exit_s:.1f} s)", lost=f"{lost} of {len(answers)}", server_errors=str(lost))
    row.notes.append(f"readiness off after {unready_ms:.0f} ms (target 100); exit code {code} "
                     f"after {exit_s:.1f} s (prestop {prestop_s} s + {len(answers)} x 100 ms of "
                     f"work; limit drain {drain_s:.0f} s + 2 s); log says every accepted request "
                     f"answered: {clean}")
    row.failed = lost > 0 or code != 0 or unready_ms > 100 or exit_s > prestop_s + drain_s + 2
    bench.say(f"  {row.notes[0]}")
    return [row]
