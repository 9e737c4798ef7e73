"""Dashboard structure: what Grafana needs to import and lay out the JSON as is.

No Grafana server can run on this machine, so the dashboards are tested by structure here and by
executing every panel's PromQL against a real Prometheus scraping a loaded server in
tests/deploy/test_live_prometheus.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ebb.deploy.dashboards import (
    DASHBOARDS,
    GRID_COLUMNS,
    all_panel_queries,
    all_panels,
    annotation_queries,
    export_dashboards,
)
from ebb.metrics import names
from ebb.metrics import names as _names

SUFFIXES = ("", "_total", "_bucket", "_sum", "_count", "_info")
KNOWN_METRICS = {
    value + suffix
    for value in [*vars(names).values(), _names.ANOMALY_SCORE, _names.ANOMALY_ACTIVE]
    if isinstance(value, str) and value.startswith("ebb_")
    for suffix in SUFFIXES
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    paths = export_dashboards(tmp_path_factory.mktemp("dashboards"))
    assert [path.name for path in paths] == [spec.file_name for spec in DASHBOARDS]
    return [json.loads(path.read_text()) for path in paths]


def test_uids_and_titles_are_unique(exported: list[dict[str, Any]]) -> None:
    assert len({board["uid"] for board in exported}) == len(exported)
    assert len({board["title"] for board in exported}) == len(exported)
    for board in exported:
        assert isinstance(board["schemaVersion"], int)
        assert "id" not in board or board["id"] is None  # Grafana assigns ids on import


def test_panel_ids_are_unique(exported: list[dict[str, Any]]) -> None:
    for board in exported:
        ids = [panel["id"] for panel in board["panels"]]
        ids += [inner["id"] for panel in board["panels"] for inner in panel.get("panels", [])]
        assert len(ids) == len(set(ids)), board["uid"]
        assert all(isinstance(panel_id, int) and panel_id > 0 for panel_id in ids)


def test_layout_stays_inside_24_columns_without_overlap(exported: list[dict[str, Any]]) -> None:
    for board in exported:
        taken: set[tuple[int, int]] = set()
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["w"] > 0 and grid["h"] > 0
            assert grid["x"] >= 0 and grid["x"] + grid["w"] <= GRID_COLUMNS, panel["title"]
            cells = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                     for y in range(grid["y"], grid["y"] + grid["h"])}
            assert not cells & taken, f"{panel['title']} overlaps another panel"
            taken |= cells


def test_every_panel_has_a_query_a_unit_and_the_datasource_variable(
        exported: list[dict[str, Any]]) -> None:
    for board in exported:
        panels = all_panels(board)
        assert panels
        for panel in panels:
            assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]
            ref_ids = [target["refId"] for target in panel["targets"]]
            assert len(ref_ids) == len(set(ref_ids))
            for target in panel["targets"]:
                assert target["expr"].strip()
                assert target["legendFormat"]
                assert target["datasource"]["uid"] == "${datasource}"


def test_datasource_and_model_are_variables(exported: list[dict[str, Any]]) -> None:
    for board in exported:
        variables = {item["name"]: item for item in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        model = variables["model"]
        assert model["type"] == "query"
        assert model["datasource"]["uid"] == "${datasource}"
        assert model["query"] == f"label_values({names.QUEUE_DEPTH}, model)"
        assert model["multi"] and model["includeAll"]


def test_queries_filter_by_the_model_variable(exported: list[dict[str, Any]]) -> None:
    """Every selector of a serving metric is narrowed to the chosen models. The anomaly series
    may not carry a model label, so they are shown for every model."""
    for board in exported:
        for title, expr in all_panel_queries(board) + annotation_queries(board):
            selectors = re.findall(r"(ebb_\w+)(\{[^}]*\})?", expr)
            for metric, matchers in selectors:
                if metric in (_names.ANOMALY_SCORE, _names.ANOMALY_ACTIVE):
                    continue
                assert 'model=~"$model"' in matchers, f"{title}: {metric} in {expr}"


def test_every_metric_name_comes_from_the_names_module(exported: list[dict[str, Any]]) -> None:
    for board in exported:
        for title, expr in all_panel_queries(board) + annotation_queries(board):
            for metric in re.findall(r"\bebb_\w+", expr):
                assert metric in KNOWN_METRICS, f"{title}: {metric} is not in ebb.metrics.names"


def test_the_signals_the_issue_asks_for_have_panels(exported: list[dict[str, Any]]) -> None:
    queries = " ".join(expr for board in exported for _, expr in all_panel_queries(board))
    wanted = [
        f"{names.REQUESTS}_total",  # request rate by code, errors
        f"{names.REQUEST_DURATION}_bucket",  # latency p50/p95/p99
        names.QUEUE_DEPTH, f"{names.QUEUE_WAIT}_bucket", f"{names.BATCH_SIZE}_bucket",
        names.AUTOSCALER_DESIRED, names.WORKERS, f"{names.AUTOSCALER_DECISIONS}_total",
        f"{names.QUEUE_REJECTIONS}_total", f"{names.WORKER_CPU}_total", names.WORKER_MEMORY,
        _names.ANOMALY_SCORE,
    ]
    for metric in wanted:
        assert metric in queries, metric
    for quantile in ("0.5", "0.95", "0.99"):
        latency = (f"histogram_quantile({quantile}, sum by (model, le) "
                   f"(rate({names.REQUEST_DURATION}_bucket")
        assert latency in queries
    assert re.search(r'code=~"2\.\."\}\[\$__rate_interval\]\)\) / sum by \(model\) '
                     rf"\(rate\({names.WORKER_CPU}_total", queries), "inferences per CPU-second"


def test_scale_decisions_rejections_and_errors_are_annotations(
        exported: list[dict[str, Any]]) -> None:
    for board in exported:
        annotations = dict(annotation_queries(board))
        assert f'{names.AUTOSCALER_DECISIONS}_total{{model=~"$model",direction!="hold"}}' in \
            annotations["Scaling decisions"]
        assert f"{names.QUEUE_REJECTIONS}_total" in annotations["Queue rejections"]
        assert 'code=~"5.."' in annotations["Server errors"]
        for entry in board["annotations"]["list"]:
            assert entry["datasource"]["uid"] == "${datasource}"
            assert entry["enable"] and entry["titleFormat"]


def test_export_is_stable(tmp_path: Path) -> None:
    first = [path.read_text() for path in export_dashboards(tmp_path / "a")]
    second = [path.read_text() for path in export_dashboards(tmp_path / "b")]
    assert first == second


def test_dashboards_doc_names_every_panel(exported: list[dict[str, Any]]) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "dashboards.md").read_text()
    for board in exported:
        assert board["title"] in doc
        for panel in all_panels(board):
            assert panel["title"] in doc, panel["title"]
