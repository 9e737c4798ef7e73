"""``run_load`` and ``ebb load`` against real ``ebb serve`` processes on loopback."""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ebb.loadgen.command import add_arguments, run
from ebb.loadgen.config import LoadConfig
from ebb.loadgen.plot import write_plot
from ebb.loadgen.report import CSV_COLUMNS, summary_text, write_csv
from ebb.loadgen.runner import run_load
from ebb.loadgen.schedule import Schedule
from ebb.traces import constant
from tests.conftest import RunningServer, start_server


@pytest.fixture(scope="module")
def sleep_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(tmp_path_factory.mktemp("sleep"), "builtin:sleep?ms=5",
                          "--workers", "1")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def overloaded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """20 requests/s of capacity (one worker, 50 ms, no batching) behind a queue of 5."""
    server = start_server(tmp_path_factory.mktemp("overload"), "builtin:sleep?ms=50",
                          "--workers", "1", "--max-batch-size", "1", "--max-queue-size", "5")
    yield server
    server.stop()


def config(server: RunningServer, protocol: str, rate: float, duration_s: float) -> LoadConfig:
    trace = constant(rate, duration_s, seed=0, spacing="uniform")
    return LoadConfig(
        schedule=Schedule(trace.arrivals, duration_s, trace.name), model="sleep",
        url=server.url, grpc_target=server.grpc_target if protocol == "grpc" else None,
        metrics_url=server.url + "/metrics", input_json=None, seed=0, concurrency_limit=100,
        timeout_s=5.0, slo_s=0.1,
    )


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
async def test_steady_load_is_all_answered_and_recorded(sleep_server: RunningServer,
                                                        protocol: str, tmp_path: Path) -> None:
    result = await run_load(config(sleep_server, protocol, rate=50, duration_s=2.0))
    summary = result.summary
    assert (summary.offered, summary.sent, summary.answered) == (100, 100, 100)
    assert summary.rejected == summary.errors == summary.timeouts == summary.dropped == 0
    assert 0.005 <= summary.p50_s <= summary.p99_s < 0.5  # the model sleeps 5 ms
    assert summary.achieved_rate == pytest.approx(50, rel=0.1)
    assert summary.slo_attainment > 0.9

    assert len(result.gauges.t) >= 3  # /metrics polled about twice a second
    assert np.all(result.gauges.ready == 1)
    assert np.nanmax(result.gauges.queue_depth) >= 0
    assert list(result.timeline.offered[:2]) == [50, 50]

    write_csv(result.timeline, tmp_path / "run.csv")
    rows = list(csv.DictReader((tmp_path / "run.csv").open()))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert sum(int(row["answered"]) for row in rows) == 100
    assert rows[0]["queue_depth"] != "" and rows[0]["workers_ready"] == "1"
    write_plot(result, tmp_path / "run.png")
    assert (tmp_path / "run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"{protocol} " in summary_text(result)


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
async def test_overload_is_counted_as_rejections_not_errors(overloaded_server: RunningServer,
                                                            protocol: str) -> None:
    result = await run_load(config(overloaded_server, protocol, rate=200, duration_s=1.0))
    summary = result.summary
    assert summary.offered == 200
    assert summary.errors == summary.timeouts == summary.dropped == 0
    assert summary.rejected > 100
    assert 10 <= summary.answered <= 60
    assert summary.answered + summary.rejected == 200
    assert summary.slo_attainment < 0.3
    assert not math.isnan(float(np.nanmax(result.timeline.queue_depth)))


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ebb load")
    add_arguments(parser)
    return parser.parse_args(argv)


def test_command_prints_a_json_summary_and_writes_files(
        sleep_server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(sleep_server.url, "--model", "sleep", "--rate", "20", "--duration", "1",
                  "--arrivals", "uniform", "--json", "--csv", str(tmp_path / "t.csv"),
                  "--plot", str(tmp_path / "t.png"))
    assert run(args) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["answered"] == summary["offered"] == 20
    assert summary["protocol"] == "rest" and summary["metrics_scrapes"] >= 1
    assert "answered 20" in captured.err  # the text summary and progress go to stderr
    assert (tmp_path / "t.csv").exists() and (tmp_path / "t.png").exists()


def test_command_explains_what_stops_it(sleep_server: RunningServer,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_parse(sleep_server.url, "--model", "nope", "--duration", "1")) == 1
    assert "404" in capsys.readouterr().err
    assert run(_parse(sleep_server.url, "--model", "sleep", "--profile", "step")) == 2
    assert "--step-to" in capsys.readouterr().err
    assert run(_parse("localhost:8080", "--model", "sleep")) == 2
    assert "http://host:port" in capsys.readouterr().err
    assert run(_parse(sleep_server.url, "--model", "sleep", "--csv", "/nonexistent/t.csv")) == 2
    assert "no such directory" in capsys.readouterr().err
