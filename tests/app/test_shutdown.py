"""SIGTERM on a real ``ebb serve`` with queued REST and gRPC work (issue 12 and SPEC §4.7):
readiness false at once, everything accepted answered (or, past the drain timeout, answered 503
with a retry hint: never cancelled or reset), exit 0 within the drain timeout + 2 s."""

from __future__ import annotations

import signal
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.app._live import Seen, grpc_infer, rest_client, rest_infer, stub_for
from tests.conftest import RunningServer, start_server

PRESTOP_S = 0.5


def _queue_work(server: RunningServer, pool: ThreadPoolExecutor, each: int
                ) -> list[Future[Seen]]:
    _, stub = stub_for(server.grpc_target)
    futures = []
    for i in range(each):
        futures.append(pool.submit(lambda v: rest_infer(rest_client(server.url), v), 1.0 + i))
        futures.append(pool.submit(grpc_infer, stub, 1.0 + i))
    time.sleep(0.3)  # all admitted: one runs, the rest wait in the queue
    return futures


def _terminate(server: RunningServer) -> tuple[float, float]:
    """SIGTERM; returns (ms until readiness answered 503 or the port closed, as a balancer's
    probe sees it, and seconds until the process exited)."""
    with httpx.Client(base_url=server.url, timeout=5) as client:
        assert client.get("/v2/health/ready").status_code == 200
        began = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        while time.monotonic() - began < 5:
            try:
                if client.get("/v2/health/ready").status_code == 503:
                    break
            except httpx.HTTPError:
                break
        unready_ms = (time.monotonic() - began) * 1000
    server.process.wait(60)
    return unready_ms, time.monotonic() - began


def test_sigterm_answers_queued_rest_and_grpc_work_and_exits_0(tmp_path: Path) -> None:
    server = start_server(tmp_path, "builtin:chaos?ms=100", "--workers", "1",
                          "--max-batch-size", "1", "--prestop-s", str(PRESTOP_S),
                          "--drain-timeout-s", "20")
    try:
        with ThreadPoolExecutor(32) as pool:
            futures = _queue_work(server, pool, each=8)
            unready_ms, exited_after = _terminate(server)
            seen = [future.result(60) for future in futures]
    finally:
        server.stop()
    assert unready_ms < 100
    assert [s.status for s in seen if s.status not in ("200", "OK")] == []
    assert server.process.returncode == 0
    assert exited_after < PRESTOP_S + 16 * 0.1 + 2
    assert "every accepted request answered" in server.log()


def test_past_the_drain_timeout_the_rest_get_503_with_a_retry_hint(tmp_path: Path) -> None:
    drain_s = 1.0
    server = start_server(tmp_path, "builtin:chaos?ms=700", "--workers", "1",
                          "--max-batch-size", "1", "--prestop-s", "0",
                          "--drain-timeout-s", str(drain_s))
    try:
        with ThreadPoolExecutor(32) as pool:
            futures = _queue_work(server, pool, each=4)
            _, exited_after = _terminate(server)
            seen = [future.result(60) for future in futures]
    finally:
        server.stop()
    answered = [s for s in seen if s.status in ("200", "OK")]
    refused = [s for s in seen if s.status not in ("200", "OK")]
    assert answered and refused
    assert {s.status for s in refused} <= {"503", "UNAVAILABLE"}, refused
    assert all(s.retry_hint for s in refused), refused
    assert all("shutting down" in s.message for s in refused)
    assert server.process.returncode == 0
    assert exited_after < drain_s + 2


def test_ctrl_c_on_loopback_does_not_wait_for_load_balancers(tmp_path: Path) -> None:
    server = start_server(tmp_path, "builtin:sleep?ms=5")
    began = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - began < 2
    assert "serving 5 s more" not in server.log()
