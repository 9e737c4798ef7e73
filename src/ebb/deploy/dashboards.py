"""Grafana dashboards for Ebb, generated from code with grafana-foundation-sdk.

``ebb dashboards export`` writes them as JSON that Grafana imports as is (Dashboards -> New ->
Import): the Prometheus data source and the model are dashboard variables, so one file serves
every installation and every model. Every query uses the names in :mod:`ebb.metrics.names`::

    paths = export_dashboards(Path("grafana"))
    for title, expr in all_panel_queries(json.loads(paths[0].read_text())): ...

Two dashboards:

- *Ebb: inference service* -- traffic, errors, latency, queue and batching, workers and
  scaling decisions, compute efficiency, anomalies: what a platform engineer watches.
- *Ebb: autoscaling* -- why the autoscaler did what it did: queue depth against workers,
  arrivals against completions, decisions, cold starts and restarts.

Scaling decisions, rejections, server errors and anomalies are also dashboard annotations, so
they mark every panel. The decision *reasons* are in the server log and on the live ``/dashboard``
page; as metric labels they would be unbounded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus as prometheus_builders
from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models

from ebb.deploy.panels import (
    ANNOTATIONS,
    ANOMALIES,
    ANOMALY_METRICS,
    DASHBOARDS,
    EFFICIENCY,
    GPU,
    GRID_COLUMNS,
    LATENCY,
    MODEL,
    MODEL_VARIABLE,
    QUANTILES,
    QUEUE,
    RATE,
    SCALING_DETAIL,
    TRAFFIC,
    WORKERS,
    Annotation,
    DashboardSpec,
    PanelSpec,
    Query,
    RowSpec,
)
from ebb.metrics import names

DATASOURCE_VARIABLE = "datasource"
DATASOURCE = models.DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")
PANEL_HEIGHT = 8


def _panel(spec: PanelSpec, panel_id: int) -> timeseries.Panel:
    panel = (timeseries.Panel()
             .id(panel_id)
             .title(spec.title)
             .description(spec.description)
             .datasource(DATASOURCE)
             .unit(spec.unit)
             .height(PANEL_HEIGHT)
             .span(spec.width)
             .line_width(1)
             .fill_opacity(10)
             .show_points(common.VisibilityMode.NEVER)
             .legend(common_builders.VizLegendOptions()
                     .display_mode(common.LegendDisplayMode.LIST)
                     .placement(common.LegendPlacement.BOTTOM)
                     .show_legend(True))
             .tooltip(common_builders.VizTooltipOptions()
                      .mode(common.TooltipDisplayMode.MULTI)
                      .sort(common.SortOrder.DESCENDING)))
    if spec.min_value is not None:
        panel = panel.min(spec.min_value)
    for index, query in enumerate(spec.queries):
        panel = panel.with_target(
            prometheus_builders.Dataquery()
            .expr(query.expr)
            .legend_format(query.legend)
            .ref_id(chr(ord("A") + index))
            .range()
            .datasource(DATASOURCE))
    return panel


def _variables() -> list[dashboard_builders.DatasourceVariable | dashboard_builders.QueryVariable]:
    return [
        dashboard_builders.DatasourceVariable(DATASOURCE_VARIABLE)
        .label("Data source")
        .type("prometheus"),
        dashboard_builders.QueryVariable(MODEL_VARIABLE)
        .label("Model")
        .datasource(DATASOURCE)
        .query(f"label_values({names.QUEUE_DEPTH}, model)")
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .current(models.VariableOption(selected=True, text="All", value="$__all")),
    ]


def build_dashboard(spec: DashboardSpec) -> dict[str, Any]:
    """One dashboard as the JSON object Grafana imports."""
    builder = (dashboard_builders.Dashboard(spec.title)
               .uid(spec.uid)
               .description(spec.description)
               .tags(["ebb", "inference", "autoscaling"])
               .editable()
               .tooltip(models.DashboardCursorSync.CROSSHAIR)
               .refresh("10s")
               .time("now-1h", "now")
               .timezone("browser"))
    for variable in _variables():
        builder = builder.with_variable(variable)
    for annotation in spec.annotations:
        builder = builder.annotation(
            dashboard_builders.AnnotationQuery()
            .name(annotation.name)
            .datasource(DATASOURCE)
            .enable(True)
            .icon_color(annotation.color)
            .expr(annotation.expr))
    panel_id = 1
    for row in spec.rows:
        builder = builder.with_row(dashboard_builders.Row(row.title).id(panel_id))
        panel_id += 1
        for panel in row.panels:
            builder = builder.with_panel(_panel(panel, panel_id))
            panel_id += 1
    document: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    # The SDK's AnnotationQuery has no Prometheus title/tag/text fields; Grafana reads them here.
    for entry, annotation in zip(document["annotations"]["list"], spec.annotations, strict=True):
        entry.update({"titleFormat": annotation.title, "tagKeys": ",".join(annotation.tags),
                      "textFormat": annotation.text, "useValueForTime": False,
                      "step": "15s"})
    return document


def export_dashboards(out_dir: Path) -> list[Path]:
    """Write every dashboard as ``<uid>.json`` into ``out_dir`` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in DASHBOARDS:
        path = out_dir / spec.file_name
        path.write_text(json.dumps(build_dashboard(spec), indent=2) + "\n")
        paths.append(path)
    return paths


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))  # panels folded into a collapsed row
    return found


def all_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel but row headers, including those inside collapsed rows."""
    return [panel for panel in _panels(dashboard) if panel.get("type") != "row"]


def all_panel_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """``(panel title, PromQL)`` for every query of every panel, in dashboard order."""
    return [(panel["title"], target["expr"])
            for panel in all_panels(dashboard) for target in panel.get("targets", [])]


def annotation_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """``(annotation name, PromQL)`` for every Prometheus annotation of the dashboard."""
    return [(entry["name"], entry["expr"])
            for entry in dashboard.get("annotations", {}).get("list", []) if "expr" in entry]


__all__ = [
    "ANNOTATIONS",
    "ANOMALIES",
    "ANOMALY_METRICS",
    "DASHBOARDS",
    "DATASOURCE",
    "DATASOURCE_VARIABLE",
    "EFFICIENCY",
    "GPU",
    "GRID_COLUMNS",
    "LATENCY",
    "MODEL",
    "MODEL_VARIABLE",
    "PANEL_HEIGHT",
    "QUANTILES",
    "QUEUE",
    "RATE",
    "SCALING_DETAIL",
    "TRAFFIC",
    "WORKERS",
    "Annotation",
    "DashboardSpec",
    "PanelSpec",
    "Query",
    "RowSpec",
    "all_panel_queries",
    "all_panels",
    "annotation_queries",
    "build_dashboard",
    "export_dashboards",
]
