"""Every PromQL string in the rendered manifests passes the real ``promtool check rules``: the
PrometheusRule's rules as they are, and each scaler query (KEDA trigger, KServe's External
metric, the prometheus-adapter rule with its templates filled in as the adapter fills them)
wrapped as a recording rule."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ebb.deploy.rules import RuleSettings, rule_groups
from tests.kubernetes.render.cases import CASES, find, objects

ADAPTER_SAMPLE = {"<<.Series>>": "ebb_queue_depth",
                  "<<.LabelMatchers>>": 'namespace="default",pod=~"demo-1|demo-2"',
                  "<<.GroupBy>>": "pod"}


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: apt-get install prometheus (make deps-system)")
    return path


def scaler_queries(docs: list[dict[str, Any]]) -> list[str]:
    """Every PromQL a scaler in these objects evaluates."""
    found = []
    for doc in docs:
        if doc["kind"] == "ScaledObject":
            found += [trigger["metadata"]["query"] for trigger in doc["spec"]["triggers"]
                      if trigger["type"] == "prometheus"]
        if doc["kind"] == "InferenceService":
            metrics = doc["spec"]["predictor"].get("autoScaling", {}).get("metrics", [])
            found += [metric["external"]["metric"]["query"] for metric in metrics]
        if doc["kind"] == "ConfigMap" and "config.yaml" in doc.get("data", {}):
            for rule in yaml.safe_load(doc["data"]["config.yaml"])["rules"]:
                query = rule["metricsQuery"]
                for template, value in ADAPTER_SAMPLE.items():
                    query = query.replace(template, value)
                found += [rule["seriesQuery"], query]
    return found


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_promql_string_passes_promtool(case: str, rendered: dict[str, list[Path]],
                                             tmp_path: Path) -> None:
    docs = objects(rendered[case])
    groups = list(find(docs, "PrometheusRule")["spec"]["groups"])
    queries = scaler_queries(docs)
    if queries:
        groups.append({"name": "scalers", "rules": [
            {"record": f"ebb:scaler_query_{index}", "expr": query}
            for index, query in enumerate(queries)]})
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": groups}))
    result = subprocess.run([_promtool(), "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_scaler_queries_exist_where_a_scaler_reads_prometheus(
        rendered: dict[str, list[Path]]) -> None:
    """Guards the test above against checking nothing."""
    for case in ("keda", "kserve-keda", "hpa", "keda-kserve"):
        assert scaler_queries(objects(rendered[case])), case
    assert scaler_queries(objects(rendered["keda"])) == [
        'sum(ebb_queue_depth{namespace="serving",model="sleepy"})']


def test_the_prometheus_rule_holds_what_ebb_rules_export_writes(
        rendered: dict[str, list[Path]]) -> None:
    rule = find(objects(rendered["kserve-secure-vpa"]), "PrometheusRule")
    assert rule["spec"] == rule_groups(RuleSettings(slo_s=0.25))
    assert find(objects(rendered["ebb"]), "PrometheusRule")["spec"] == rule_groups(
        RuleSettings())
