"""Hung models, poison requests and killed workers against a real ``ebb serve`` of
``builtin:chaos`` (a row starting with 7 hangs its batch, one starting with 13 kills its worker),
over REST and gRPC, with normal traffic around them."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.app._live import (
    Seen,
    grpc_infer,
    metric,
    rest_client,
    rest_infer,
    stub_for,
    worker_pids,
)
from tests.conftest import RunningServer, start_server

CHAOS = "builtin:chaos?ms=10&hang_on=7&crash_on=13"


def _normal_load(server: RunningServer, seconds: float, senders: int = 4) -> list[Seen]:
    """Closed-loop normal requests (REST and gRPC alternately) for ``seconds``."""
    _, stub = stub_for(server.grpc_target)
    stop_at = time.monotonic() + seconds

    def sender(index: int) -> list[Seen]:
        seen = []
        with rest_client(server.url) as client:
            while time.monotonic() < stop_at:
                value = float(100 + index)
                seen.append(rest_infer(client, value) if len(seen) % 2 else
                            grpc_infer(stub, value))
        return seen

    with ThreadPoolExecutor(senders) as pool:
        return [s for part in pool.map(sender, range(senders)) for s in part]


def test_one_hung_request_per_worker_is_answered_504_and_service_recovers(
        tmp_path: Path) -> None:
    server = start_server(tmp_path, CHAOS, "--workers", "2", "--max-batch-size", "1")
    deadline_ms = 1000
    try:
        with ThreadPoolExecutor(4) as pool:
            load = pool.submit(_normal_load, server, 5.0)
            time.sleep(0.5)
            clients = [rest_client(server.url) for _ in range(2)]
            hung = [pool.submit(rest_infer, client, 7.0, deadline_ms) for client in clients]
            hung_seen = [future.result(30) for future in hung]
            normal = load.result(60)
        ready = httpx.get(f"{server.url}/v2/health/ready").status_code
        kills = metric(server.url, 'ebb_watchdog_kills_total{model="chaos"}')
    finally:
        server.stop()
    assert [s.status for s in hung_seen] == ["504", "504"]
    assert all(s.seconds < deadline_ms / 1000 + 1.0 for s in hung_seen), hung_seen
    assert [s.status for s in normal if s.status not in ("200", "OK")] == []
    assert len(normal) > 50
    # killed at the deadline; back to normal within 2 s of that
    late = sorted(s.seconds for s in normal
                  if s.sent_at > hung_seen[0].sent_at + deadline_ms / 1000 + 2.0)
    assert late and late[len(late) // 2] < 0.1 and late[-1] < 1.0, late
    assert ready == 200
    assert kills == 2


def test_poison_pills_among_innocents_fail_alone_without_retry_hints(tmp_path: Path) -> None:
    server = start_server(tmp_path, CHAOS, "--workers", "2", "--max-batch-size", "1")
    _, stub = stub_for(server.grpc_target)
    try:
        with ThreadPoolExecutor(8) as pool:
            load = pool.submit(_normal_load, server, 3.0)
            time.sleep(0.3)
            client = rest_client(server.url)
            poison = [pool.submit(rest_infer, client, 13.0),
                      pool.submit(grpc_infer, stub, 13.0),
                      pool.submit(rest_infer, client, 13.0)]
            poison_seen = [future.result(30) for future in poison]
            normal = load.result(60)
        restarts = metric(server.url, 'ebb_worker_restarts_total{model="chaos"}')
        counted = metric(server.url, 'ebb_poison_requests_total{model="chaos"}')
    finally:
        server.stop()
    assert sorted(s.status for s in poison_seen) == ["500", "500", "INTERNAL"]
    assert all(s.retry_hint is None for s in poison_seen)
    assert all("not retried" in s.message for s in poison_seen)
    assert [s.status for s in normal if s.status not in ("200", "OK")] == []
    assert restarts == 3 and counted == 3
    assert server.log().count("(poison), not retried") == 3


def test_kill_9_of_workers_under_load_fails_no_request(tmp_path: Path) -> None:
    server = start_server(tmp_path, CHAOS, "--workers", "2", "--max-batch-size", "4")
    killed = []
    stop = threading.Event()

    def killer() -> None:
        while not stop.wait(0.5):
            pids = worker_pids(server.process.pid)
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])

    try:
        thread = threading.Thread(target=killer)
        thread.start()
        normal = _normal_load(server, 3.0)
        stop.set()
        thread.join()
    finally:
        server.stop()
    assert len(killed) >= 4
    assert len(normal) > 50
    assert [s.status for s in normal if s.status not in ("200", "OK")] == []
