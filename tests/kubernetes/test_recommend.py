"""`ebb k8s recommend`: exposition parsing, Kubernetes quantities, the sizing arithmetic on
hand-made scrapes, and the command end to end against a real `ebb serve` under `ebb load`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml

from ebb.kubernetes.recommend import (
    MARGIN,
    RecommendError,
    add_arguments,
    cpu_quantity,
    measure,
    memory_quantity,
    parse_scrape,
    resources,
    run,
)
from tests.conftest import start_server

MIB = 2**20


def _exposition(cpu: tuple[float, float], rss_mib: tuple[int, int], batch_s: float,
                answered: float, gateway_cpu: float) -> str:
    return "\n".join([
        "# TYPE ebb_worker_cpu_seconds counter",
        f'ebb_worker_cpu_seconds_total{{model="m",worker="1"}} {cpu[0]}',
        f'ebb_worker_cpu_seconds_total{{model="m",worker="2"}} {cpu[1]}',
        "# TYPE ebb_worker_resident_memory_bytes gauge",
        f'ebb_worker_resident_memory_bytes{{model="m",worker="1"}} {rss_mib[0] * MIB}',
        f'ebb_worker_resident_memory_bytes{{model="m",worker="2"}} {rss_mib[1] * MIB}',
        "# TYPE ebb_inference_duration_seconds histogram",
        'ebb_inference_duration_seconds_bucket{model="m",le="+Inf"} 10',
        'ebb_inference_duration_seconds_count{model="m"} 10',
        f'ebb_inference_duration_seconds_sum{{model="m"}} {batch_s}',
        "# TYPE ebb_batch_size histogram",
        'ebb_batch_size_bucket{model="m",le="+Inf"} 10',
        'ebb_batch_size_count{model="m"} 10',
        f'ebb_batch_size_sum{{model="m"}} {answered}',
        "# TYPE process_cpu_seconds counter",
        f"process_cpu_seconds_total {gateway_cpu}",
        "# TYPE process_resident_memory_bytes gauge",
        f"process_resident_memory_bytes {100 * MIB}",
        "",
    ])


def test_parse_scrape_reads_workers_gateway_and_models() -> None:
    scrape = parse_scrape(_exposition((1.0, 2.0), (200, 300), 5.0, 50, 3.0), at=7.0)
    assert scrape.worker_cpu_s == {("m", "1"): 1.0, ("m", "2"): 2.0}
    assert scrape.worker_memory[("m", "2")] == 300 * MIB
    assert (scrape.batch_seconds, scrape.answered, scrape.gateway_cpu_s) == (5.0, 50, 3.0)
    assert scrape.gateway_memory == 100 * MIB
    assert scrape.models == ("m",)


@pytest.mark.parametrize(("cores", "text"), [
    (0.0, "1m"), (0.0004, "1m"), (0.25, "250m"), (1.0, "1"), (1.0004, "1001m"), (2.0, "2"),
    (1.5, "1500m")])
def test_cpu_quantities(cores: float, text: str) -> None:
    assert cpu_quantity(cores) == text


@pytest.mark.parametrize(("size", "text"), [
    (1, "1Mi"), (300 * MIB, "300Mi"), (300 * MIB + 1, "301Mi"), (2048 * MIB, "2Gi"),
    (1536 * MIB, "1536Mi")])
def test_memory_quantities(size: float, text: str) -> None:
    assert memory_quantity(size) == text


def test_sizing_arithmetic_on_hand_made_scrapes() -> None:
    # over 10 s: workers burn 4 and 6 CPU-s while busy 5 s each (10 batch-seconds in all),
    # answering 200 requests; the gateway burns 1 CPU-s
    first = parse_scrape(_exposition((0.0, 0.0), (200, 300), 0.0, 0, 0.0), at=0.0)
    second = parse_scrape(_exposition((4.0, 6.0), (200, 300), 10.0, 200, 1.0), at=10.0)
    m = measure(first, second)
    assert m.busy_fraction == pytest.approx(0.5)
    assert m.cores_per_busy_s == pytest.approx(1.0)  # 10 CPU-s over 10 busy seconds
    assert m.busiest_cores_per_busy_s == pytest.approx(1.2)  # 6 CPU-s over 5 busy seconds
    assert m.answered_per_busy_s == pytest.approx(20.0)
    assert m.inferences_per_cpu_s == pytest.approx(20.0)
    assert m.gateway_cpu_per_answer_s == pytest.approx(0.005)
    rec = resources(m, workers=4)
    # flat out: 4 workers x 1 core + the gateway at 4 x 20/s x 5 ms = 0.4 cores, + 15 %
    assert rec["target"]["cpu"] == cpu_quantity((4 * 1.0 + 0.4) * (1 + MARGIN)) == "5060m"
    assert rec["lowerBound"]["cpu"] == "2100m"  # 4 x 0.5 cores measured + 0.1 gateway
    assert rec["upperBound"]["cpu"] == cpu_quantity((4 * 1.2 + 0.4) * (1 + MARGIN))
    assert rec["target"]["memory"] == memory_quantity((4 * 250 + 100) * MIB * (1 + MARGIN))
    assert rec["lowerBound"]["memory"] == "900Mi"  # 4 x 200 + 100
    assert rec["upperBound"]["memory"] == memory_quantity((4 * 300 + 100) * MIB * (1 + MARGIN))


def test_no_worker_in_both_scrapes_is_an_error() -> None:
    empty = parse_scrape("process_cpu_seconds_total 1\n", at=0.0)
    with pytest.raises(RecommendError, match="no worker"):
        measure(empty, parse_scrape("process_cpu_seconds_total 2\n", at=1.0))


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ebb k8s recommend")
    add_arguments(parser)
    return run(parser.parse_args(argv))


def test_against_a_live_server_under_load(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    server = start_server(tmp_path, "builtin:sleep?ms=10", "--workers", "2")
    try:
        status = _cli(["--url", server.url, "--workers", "3", "--window-s", "1.5", "--load",
                       "40", "--format", "json"])
        out = capsys.readouterr().out
        assert status == 0
        doc = json.loads(out)
        (rec,) = doc["recommendation"]["containerRecommendations"]
        assert rec["containerName"] == "ebb"
        assert set(rec) == {"containerName", "target", "lowerBound", "upperBound"}
        measured = doc["measured"]
        assert measured["workers"] == 2
        assert measured["answered_per_s"] > 10
        assert measured["worker_memory_bytes"] > 10 * MIB
        assert any("queue depth" in line for line in doc["workers_per_pod"])  # sleep: no CPU
        status = _cli(["--url", server.url, "--workers", "2", "--window-s", "0.3"])
        text = capsys.readouterr().out
        assert status == 0
        parsed = yaml.safe_load(text)  # the explanation rides along as comments
        assert parsed["recommendation"]["containerRecommendations"][0]["target"]["memory"]
        assert text.startswith("# ebb k8s recommend")
    finally:
        server.stop()


def test_unreachable_server_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(["--url", "http://127.0.0.1:9", "--window-s", "0.1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ebb k8s recommend: error: ") and err.count("\n") == 1
