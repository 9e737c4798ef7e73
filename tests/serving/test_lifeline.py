"""No orphans: SIGKILL of the gateway under load, with workers stuck in a hung model, leaves no
process of that server behind within a few seconds."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from tests.app._live import gone, rest_client, rest_infer
from tests.conftest import start_server


def test_sigkill_of_the_gateway_leaves_no_process_behind(tmp_path: Path) -> None:
    server = start_server(tmp_path, "builtin:chaos?ms=10&hang_on=7", "--workers", "3",
                          "--max-batch-size", "1")
    gateway = psutil.Process(server.process.pid)
    with ThreadPoolExecutor(6) as pool:
        for value in (7.0, 7.0, 1.0, 2.0, 3.0, 4.0):  # two workers hang, one serves
            pool.submit(rest_infer, rest_client(server.url), value)
        time.sleep(1.0)
        family = gateway.children(recursive=True)
        assert len(family) >= 5  # fork server, resource tracker, three workers
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(gone(p.pid) for p in family):
            time.sleep(0.05)
    left = [(p.pid, p.name()) for p in family if not gone(p.pid)]
    assert left == []
