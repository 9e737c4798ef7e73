"""The real Prometheus scraping a real, loaded ``ebb serve``: every dashboard query must answer.

No Grafana server can run on this machine, so the dashboards are tested two ways: by their
structure (tests/deploy/test_dashboards.py) and here, by executing every panel's PromQL --
with ``$model`` and ``$__rate_interval`` substituted as Grafana would -- against Debian's
``prometheus`` binary scraping ``ebb serve`` every second under light loopback load. Each query
must parse and return data. The only queries allowed to come back empty are those over the
anomaly detector's series, and only while no ``ebb_anomaly_*`` series exists at all (the
detector is another part of the project); once it exports them, those panels must answer too.
The GPU panels come back empty on a machine without an NVIDIA GPU (like this one and CI): there
they must parse, and answer wherever NVML finds a GPU.

The same Prometheus loads the generated alert rules, and every rule must evaluate cleanly
against the live series.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ebb.deploy.dashboards import DASHBOARDS, all_panel_queries, annotation_queries, build_dashboard
from ebb.deploy.prometheus import (
    LocalPrometheus,
    PrometheusNotInstalled,
    PrometheusQueryError,
    PrometheusStartError,
)
from ebb.deploy.rules import RuleSettings, export_rules
from ebb.metrics import names as _names
from ebb.metrics.gpu import open_gpu_reader
from tests.conftest import RunningServer, start_server

MODEL = "sleep"
RATE_INTERVAL = "10s"  # Grafana's $__rate_interval for a 1 s scrape is at least 4 scrapes
GOOD = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [1] * 4}]}
BAD = {"inputs": [{"name": "WRONG", "datatype": "FP32", "shape": [1], "data": [1]}]}


def _substitute(expr: str) -> str:
    """What Grafana sends for a single selected model."""
    text = expr.replace("$__rate_interval", RATE_INTERVAL).replace("$model", MODEL)
    assert "$" not in text, f"an unsubstituted variable in {expr!r}"
    return text


def _load(url: str, stop: threading.Event, limit: int = 20_000) -> None:
    """Light, bounded loopback load: ~100 requests/s, one in ten malformed (400)."""
    with httpx.Client(base_url=url, timeout=10) as http:
        for index in range(limit):
            if stop.is_set():
                return
            with contextlib.suppress(httpx.HTTPError):
                http.post(f"/v2/models/{MODEL}/infer", json=BAD if index % 10 == 9 else GOOD)
            time.sleep(0.01)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("serve"), f"builtin:{MODEL}?ms=5",
                           "--min-workers", "1", "--max-workers", "2",
                           "--max-batch-delay-ms", "1")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def prometheus(server: RunningServer,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPrometheus]:
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is missing: apt-get install prometheus (make deps-system)")
    rules = export_rules(tmp_path_factory.mktemp("rules"), RuleSettings())
    stop = threading.Event()
    load = threading.Thread(target=_load, args=(server.url, stop), daemon=True)
    load.start()
    local = LocalPrometheus([f"127.0.0.1:{server.http_port}"], interval_s=1.0,
                            rule_files=[rules])
    try:
        local.start()
        # Rates need two scrapes with traffic between them inside the window.
        local.wait_for_series(
            f'sum(rate(ebb_requests_total{{code="200"}}[{RATE_INTERVAL}])) > 0', timeout_s=30)
        local.wait_for_series(
            f"sum(rate(ebb_batch_size_count[{RATE_INTERVAL}])) > 0", timeout_s=30)
        yield local
    finally:
        stop.set()
        load.join(timeout=15)
        local.stop()


def _anomaly_series_exported(prometheus: LocalPrometheus) -> bool:
    return any(prometheus.query(f"count({name})") for name in
               (_names.ANOMALY_SCORE, _names.ANOMALY_ACTIVE))


def _numbers(result: list[dict[str, object]]) -> list[float]:
    values = []
    for series in result:
        sample = series["value"]
        assert isinstance(sample, list)
        values.append(float(sample[1]))
    return values


GPU_METRICS = (_names.WORKER_GPU_UTILISATION, _names.WORKER_GPU_MEMORY, _names.GPU_UTILISATION)

QUERIES = [(spec.uid, title, expr) for spec in DASHBOARDS
           for title, expr in all_panel_queries(build_dashboard(spec))]


@pytest.mark.parametrize(("dashboard", "title", "expr"), QUERIES,
                         ids=[f"{uid}:{title}:{index}"
                              for index, (uid, title, _) in enumerate(QUERIES)])
def test_every_panel_query_returns_data(prometheus: LocalPrometheus, dashboard: str, title: str,
                                        expr: str) -> None:
    promql = _substitute(expr)
    result = prometheus.query(promql)
    uses_anomaly = any(name in expr for name in (_names.ANOMALY_SCORE, _names.ANOMALY_ACTIVE))
    if uses_anomaly and not _anomaly_series_exported(prometheus):
        assert result == []
        pytest.skip("the anomaly detector does not export ebb_anomaly_* yet; the query parses")
    uses_gpu = any(name in expr for name in GPU_METRICS)
    if uses_gpu and open_gpu_reader()[0] is None:
        assert result == []
        pytest.skip("no GPU on this machine: the GPU query parses and is empty")
    assert result, f"{dashboard} / {title}: no data for {promql}"
    values = _numbers(result)
    assert any(not math.isnan(value) for value in values), (
        f"{dashboard} / {title}: only NaN for {promql}")
    # The series a panel draws are the ones its legend names.
    for series in result:
        labels = series["metric"]
        assert isinstance(labels, dict)
        assert labels.get("model", MODEL) == MODEL


def test_range_queries_answer_like_grafana(prometheus: LocalPrometheus) -> None:
    """A panel asks for a range; one representative per dashboard, over the last 10 s."""
    now = time.time()
    for spec in DASHBOARDS:
        _, expr = all_panel_queries(build_dashboard(spec))[0]
        result = prometheus.query_range(_substitute(expr), now - 10, now, 1)
        assert result and all(series["values"] for series in result)


def test_annotation_queries_parse(prometheus: LocalPrometheus) -> None:
    """Annotations mark rare events (scale-ups, rejections, 5xx): empty is fine, errors not."""
    for spec in DASHBOARDS:
        for _, expr in annotation_queries(build_dashboard(spec)):
            prometheus.query(_substitute(expr))


def test_every_rule_evaluates_against_live_series(prometheus: LocalPrometheus) -> None:
    deadline = time.monotonic() + 15
    while True:
        rules = [rule for group in prometheus.rules() for rule in group["rules"]]
        if rules and all(rule.get("health") != "unknown" for rule in rules):
            break
        assert time.monotonic() < deadline, "rules were not evaluated within 15 s"
        time.sleep(0.5)
    broken = {rule["name"]: rule.get("lastError") for rule in rules if rule["health"] != "ok"}
    assert not broken
    firing = [rule["name"] for rule in rules
              if rule.get("type") == "alerting" and rule.get("state") == "firing"]
    assert firing == [], "a lightly loaded healthy server must not alert"


def test_recorded_autoscaler_series_come_from_the_server(prometheus: LocalPrometheus) -> None:
    info = prometheus.query(f'ebb_autoscaler_policy_info{{model="{MODEL}"}}')
    assert info and info[0]["metric"]["max_workers"] == "2"


def test_a_bad_query_is_a_clear_error(prometheus: LocalPrometheus) -> None:
    with pytest.raises(PrometheusQueryError, match="parse error"):
        prometheus.query("sum(ebb_queue_depth")


def test_missing_binary_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(PrometheusNotInstalled, match="apt-get install prometheus"):
        LocalPrometheus(["127.0.0.1:1"]).start()


def test_a_failed_start_reports_the_log_and_leaves_nothing_behind(tmp_path: Path) -> None:
    broken = tmp_path / "broken-rules.yml"
    broken.write_text("groups:\n- name: x\n  rules:\n  - record: bad\n    expr: sum(\n")
    local = LocalPrometheus(["127.0.0.1:1"], rule_files=[broken], start_timeout_s=30)
    with pytest.raises(PrometheusStartError, match="exited with status"):
        local.start()
    assert local.workdir is None


def test_stop_ends_the_process_and_removes_its_files(prometheus: LocalPrometheus) -> None:
    """Last in this module: it stops the shared Prometheus (stopping twice is harmless)."""
    url, workdir = prometheus.url, prometheus.workdir
    assert workdir is not None and (workdir / "prometheus.yml").exists()
    prometheus.stop()
    assert not workdir.exists()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/-/ready", timeout=2)
