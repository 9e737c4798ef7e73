"""The hostile battery and the slow clients of ``bench/reliability.py``: each attack runs while a
normal client (``_reliability_normal``) measures health and infer latency and the gateway's
memory, against a baseline measured first with no attack.

Targets (issue 12): the normal client loses nothing, its p99 stays under 100 ms, the gateway
grows by under 64 MB, no client input gets a 5xx / INTERNAL / UNKNOWN.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import _reliability_attacks as attacks
import _reliability_sockets as sockets
from _reliability_attacks import Outcome
from _reliability_normal import NormalClient, Seen
from _reliability_procs import Bench, Server
from _reliability_report import Row, ms

P99_TARGET_MS = 100.0
RSS_TARGET_MB = 64.0
HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
KEEP_ALIVE_S = 2
GUARDS = ("--header-timeout-s", str(HEADER_TIMEOUT_S), "--body-timeout-s", str(BODY_TIMEOUT_S),
          "--keep-alive-s", str(KEEP_ALIVE_S), "--max-connections", "400",
          "--max-header-kb", "16", "--max-inflight-request-mb", "64")
Attack = Callable[[], Outcome]


def baseline(bench: Bench, server: Server, model: str) -> tuple[Row, Seen]:
    with NormalClient(server.http_port, model, server.pid) as seen:
        time.sleep(bench.pick(3, 1.5))
    row = Row(f"baseline ({model}, no attack)", f"normal client: {seen.requests} requests",
              lost=f"{len(seen.failures)} of {seen.requests}", normal_p99=ms(seen.p99_ms))
    row.notes.append(f"health + infer back to back: p50 {ms(seen.p50_ms)}, p99 "
                     f"{ms(seen.p99_ms)}")
    return row, seen


def under_attack(bench: Bench, server: Server, model: str, name: str, attack: Attack,
                 base: Seen) -> Row:
    """Run ``attack`` while the normal client measures; one row."""
    bench.say(name)
    tracebacks = server.tracebacks()
    with NormalClient(server.http_port, model, server.pid) as seen:
        outcome = attack()
    new_tracebacks = server.tracebacks() - tracebacks
    row = Row(name, f"normal client: {seen.requests} requests", faults=outcome.faults,
              bad_inputs=str(outcome.tried),
              lost=f"{len(seen.failures)} of {seen.requests} (normal client)",
              normal_p99=f"{ms(seen.p99_ms)} (baseline {ms(base.p99_ms)})",
              server_errors=str(outcome.server_errors))
    excused = sum(outcome.statuses[status] for status in outcome.excused)
    if excused:
        row.server_errors += f" (+{excused} expected 500s, no retry hint)"
    answers = ", ".join(f"{status} x{count}" for status, count in outcome.statuses.items())
    row.notes.append(f"answers: {answers}; normal client p50 {ms(seen.p50_ms)}, p99 "
                     f"{ms(seen.p99_ms)}; gateway RSS +{seen.rss_growth_mb:.0f} MB; "
                     f"{new_tracebacks} tracebacks in the log")
    if seen.not_ready:
        row.notes.append(f"readiness answered 503 to {seen.not_ready} probes (no worker could "
                         "answer for a moment: true, not counted as lost)")
    if seen.failures:
        row.notes.append(f"normal client failures: {seen.failures[:5]}")
    if outcome.wrong:
        row.notes.append(f"unexpected: {outcome.wrong[:5]}")
    row.failed = bool(seen.failures or outcome.wrong or new_tracebacks
                      or seen.p99_ms > P99_TARGET_MS or seen.rss_growth_mb > RSS_TARGET_MB)
    bench.say(f"  {outcome.tried} tried, {outcome.server_errors} server errors, normal p99 "
              f"{ms(seen.p99_ms)}, {len(seen.failures)} normal failures"
              + (f"; unexpected: {outcome.wrong[:3]}" if outcome.wrong else ""))
    return row


def hostile(bench: Bench) -> list[Row]:
    n = int(bench.pick(20, 5))
    with bench.server("hostile", "builtin:chaos?ms=1&hang_on=7&crash_on=13", "--workers", "2",
                      "--max-batch-size", "1", *GUARDS) as server:
        port, target = server.http_port, server.grpc_target
        base_row, base = baseline(bench, server, "chaos")

        def metric(series: str) -> Callable[[], float]:
            return lambda: server.metric(series + '{model="chaos"}')

        battery: list[tuple[str, Attack]] = [
            ("hung model", lambda: attacks.hung_model(
                port, target, 2 if bench.quick else 4, metric("ebb_watchdog_kills_total"))),
            ("poison requests", lambda: attacks.poison(
                port, target, 3, metric("ebb_poison_requests_total"))),
            ("huge claimed shapes", lambda: attacks.huge_shapes(port, target, n)),
            ("deep nesting, odd numbers", lambda: attacks.deep_and_odd(port, n)),
            ("slowloris", lambda: sockets.slowloris(port, 15 * n, HEADER_TIMEOUT_S)),
            ("huge headers", lambda: sockets.huge_headers(port, 2 if bench.quick else 5)),
            ("bad gRPC bytes", lambda: attacks.bad_grpc_bytes(target, 15 * n)),
        ]
        rows = [base_row] + [under_attack(bench, server, "chaos", f"hostile: {name}", attack,
                                          base) for name, attack in battery]
    return rows


def slow_clients(bench: Bench) -> list[Row]:
    n = int(bench.pick(10, 4))
    with bench.server("slow-clients", "builtin:double", "--max-batch-delay-ms", "1",
                      *GUARDS) as server:
        port, grpc_port = server.http_port, server.grpc_port
        base_row, base = baseline(bench, server, "double")
        battery: list[tuple[str, Attack]] = [
            ("slow bodies", lambda: sockets.slow_bodies(port, 5 * n, BODY_TIMEOUT_S)),
            ("clients that never read", lambda: sockets.never_reading(
                port, 2 * n, bench.pick(3, 1.5))),
            ("silent gRPC connections", lambda: sockets.grpc_silent(
                grpc_port, 10 * n, HEADER_TIMEOUT_S)),
            ("idle HTTP/2 connections", lambda: sockets.grpc_idle(
                grpc_port, 5 * n, KEEP_ALIVE_S)),
        ]
        rows = [base_row] + [under_attack(bench, server, "double", f"slow: {name}", attack,
                                          base) for name, attack in battery]
    return rows
