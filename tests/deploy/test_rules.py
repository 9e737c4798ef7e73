"""Alert rules checked and unit tested by the real ``promtool``: series in, alerts out.

Every alert has at least one case where it fires (with its exact labels and annotations) and
one where it must stay silent; the generated rule file is the one ``ebb rules export`` writes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from ebb.deploy import rules
from ebb.deploy.rules import RuleSettings, alerts, export_rules, le_matcher, slo_bucket
from ebb.metrics import names
from ebb.metrics import names as _names

M = 'model="m"'
SETTINGS = RuleSettings()
ALERTS = {alert.name: alert for alert in alerts(SETTINGS)}


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: apt-get install prometheus (make deps-system)")
    return path


@pytest.fixture(scope="module")
def rule_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_rules(tmp_path_factory.mktemp("rules"), SETTINGS)


def _render(template: str, labels: dict[str, str], value: str) -> str:
    """What Prometheus makes of our annotation templates, for the few forms they use."""
    text = re.sub(r"\{\{ with \$labels\.model \}\} of \{\{ \. \}\}\{\{ end \}\}",
                  f" of {labels['model']}" if "model" in labels else "", template)
    text = re.sub(r"\{\{ \$value( \| humanize(Percentage)?)? \}\}", value, text)
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda match: labels[match.group(1)], text)


@dataclass
class Case:
    """One promtool test: input series, then whether ``alert`` fires at ``at``."""

    id: str
    alert: str
    series: dict[str, str]
    at: str
    labels: dict[str, str] | None = None  # None: must not fire
    value: str = ""
    interval: str = "1m"
    extra: list[dict[str, Any]] = field(default_factory=list)

    def test_group(self) -> dict[str, Any]:
        expected = []
        if self.labels is not None:
            alert = ALERTS[self.alert]
            expected.append({
                "exp_labels": {"severity": alert.severity, **self.labels},
                "exp_annotations": {
                    "summary": _render(alert.summary, self.labels, self.value),
                    "description": _render(alert.description, self.labels, self.value),
                    "runbook_url": f"{SETTINGS.runbook_url}#{alert.anchor}",
                },
            })
        return {
            "name": self.id,
            "interval": self.interval,
            "input_series": [{"series": series, "values": values}
                             for series, values in self.series.items()],
            "alert_rule_test": [{"eval_time": self.at, "alertname": self.alert,
                                 "exp_alerts": expected}],
            **({"promql_expr_test": self.extra} if self.extra else {}),
        }


GOOD = f"{names.REQUEST_DURATION}_bucket{{{M},protocol=\"rest\",le=\"0.1\"}}"
COUNT = f"{names.REQUEST_DURATION}_count{{{M},protocol=\"rest\"}}"
DEPTH = f'{names.QUEUE_DEPTH}{{{M},instance="a:1",job="ebb"}}'
CAPACITY = f'{names.QUEUE_CAPACITY}{{{M},instance="a:1",job="ebb"}}'
ADMITTED = f'{names.QUEUE_ADMISSIONS}_total{{{M},instance="a:1",job="ebb"}}'
REJECTED = f'{names.QUEUE_REJECTIONS}_total{{{M},instance="a:1",job="ebb"}}'
DESIRED = f'{names.AUTOSCALER_DESIRED}{{{M},policy="ebb"}}'
READY = f'{names.WORKERS}{{{M},state="ready",instance="a:1"}}'
ANOMALY = f'{_names.ANOMALY_ACTIVE}{{signal="latency",{M}}}'


def _requests(code: int) -> str:
    return f'{names.REQUESTS}_total{{{M},protocol="rest",code="{code}"}}'


def _policy(max_workers: int) -> str:
    return (f'{names.AUTOSCALER_POLICY}_info{{{M},policy="ebb",min_workers="1",'
            f'max_workers="{max_workers}",interval_seconds="0.5"}}')


def _decisions(direction: str) -> str:
    return f'{names.AUTOSCALER_DECISIONS}_total{{{M},policy="ebb",direction="{direction}"}}'


CASES = [
    # Latency SLO, fast burn (1h and 5m at 14.4x).
    Case("burn-fast-every-request-slow", "EbbLatencyBudgetBurnFast",
         {GOOD: "0x120", COUNT: "0+60x120"}, "70m", {"model": "m"}, "100"),
    Case("burn-fast-silent-within-budget", "EbbLatencyBudgetBurnFast",
         {GOOD: "0+199x120", COUNT: "0+200x120"}, "70m"),
    Case("burn-fast-silent-on-a-5m-blip", "EbbLatencyBudgetBurnFast",
         {GOOD: "0+60x60 3600x10", COUNT: "0+60x70"}, "66m"),
    # Latency SLO, slow burn (6h and 30m at 6x): 10 % slow is 10x a 1 % budget.
    Case("burn-slow-ten-percent-slow", "EbbLatencyBudgetBurnSlow",
         {GOOD: "0+90x400", COUNT: "0+100x400"}, "380m", {"model": "m"}, "10"),
    Case("burn-slow-silent-at-3x", "EbbLatencyBudgetBurnSlow",
         {GOOD: "0+97x400", COUNT: "0+100x400"}, "380m"),
    # Queue saturation.
    Case("queue-90-percent-full", "EbbQueueNearCapacity",
         {DEPTH: "90x10", CAPACITY: "100x10"}, "5m",
         {"model": "m", "instance": "a:1", "job": "ebb"}, "90%"),
    Case("queue-70-percent-full-is-fine", "EbbQueueNearCapacity",
         {DEPTH: "70x10", CAPACITY: "100x10"}, "5m"),
    Case("queue-full-for-a-minute-is-fine", "EbbQueueNearCapacity",
         {DEPTH: "95 95 10x10", CAPACITY: "100x10"}, "3m"),
    Case("rejecting-ten-percent", "EbbQueueRejecting",
         {ADMITTED: "0+90x10", REJECTED: "0+10x10"}, "8m", {"model": "m"}, "10%"),
    Case("no-rejections", "EbbQueueRejecting",
         {ADMITTED: "0+90x10", REJECTED: "0x10"}, "8m"),
    # Error ratio.
    Case("twenty-percent-5xx", "EbbHighErrorRatio",
         {_requests(200): "0+80x20", _requests(503): "0+20x20"}, "12m", {"model": "m"}, "20%"),
    Case("four-percent-5xx-is-fine", "EbbHighErrorRatio",
         {_requests(200): "0+96x20", _requests(500): "0+4x20"}, "12m"),
    Case("client-errors-are-not-5xx", "EbbHighErrorRatio",
         {_requests(200): "0+50x20", _requests(400): "0+50x20"}, "12m"),
    # Workers at max: desired == max_workers of the policy info, for 15 minutes.
    Case("desired-at-max-for-20m", "EbbWorkersAtMax",
         {DESIRED: "4x30", _policy(4): "1x30"}, "20m",
         {"model": "m", "policy": "ebb", "max_workers": "4"},
         extra=[{"expr": rules.DESIRED_AT_MAX, "eval_time": "1m", "exp_samples": [
             {"labels": f'{rules.DESIRED_AT_MAX}{{{M},policy="ebb",max_workers="4"}}',
              "value": 1}]}]),
    Case("desired-below-max", "EbbWorkersAtMax",
         {DESIRED: "3x30", _policy(4): "1x30"}, "20m"),
    Case("desired-at-max-for-only-9m", "EbbWorkersAtMax",
         {DESIRED: "2x10 4x20", _policy(4): "1x30"}, "20m"),
    # Autoscaler not acting while the queue grows.
    Case("queue-grows-and-only-holds", "EbbAutoscalerNotActing",
         {DEPTH: "0+2x30", DESIRED: "1x30", _policy(4): "1x30", _decisions("hold"): "0+120x30"},
         "15m", {"model": "m"}, "30"),
    Case("queue-grows-and-autoscaler-scales-up", "EbbAutoscalerNotActing",
         {DEPTH: "0+2x30", DESIRED: "1+0.1x30", _policy(4): "1x30",
          _decisions("hold"): "0+120x30", _decisions("up"): "0+1x30"}, "15m"),
    Case("queue-grows-at-max-is-workers-at-max", "EbbAutoscalerNotActing",
         {DEPTH: "0+2x30", DESIRED: "4x30", _policy(4): "1x30", _decisions("hold"): "0+120x30"},
         "15m"),
    Case("steady-queue-is-fine", "EbbAutoscalerNotActing",
         {DEPTH: "50x30", DESIRED: "1x30", _policy(4): "1x30", _decisions("hold"): "0+120x30"},
         "15m"),
    Case("growing-queue-without-autoscaler", "EbbAutoscalerNotActing",
         {DEPTH: "0+2x30"}, "15m"),
    # No ready worker while requests wait.
    Case("requests-wait-with-no-worker", "EbbNoReadyWorker",
         {READY: "0x10", DEPTH: "3x10"}, "5m", {"model": "m"}),
    Case("scaled-to-zero-and-idle", "EbbNoReadyWorker",
         {READY: "0x10", DEPTH: "0x10"}, "5m"),
    Case("cold-start-within-a-minute", "EbbNoReadyWorker",
         {READY: "0 0 1x10", DEPTH: "3 3 0x10"}, "4m"),
    # Anomaly detector.
    Case("anomaly-flagged", "EbbAnomalyActive",
         {ANOMALY: "1x10"}, "5m", {"model": "m", "signal": "latency"}),
    Case("anomaly-without-model-label", "EbbAnomalyActive",
         {f'{_names.ANOMALY_ACTIVE}{{signal="arrival_rate"}}': "1x10"}, "5m",
         {"signal": "arrival_rate"}),
    Case("no-anomaly", "EbbAnomalyActive", {ANOMALY: "0x10"}, "5m"),
    Case("anomaly-for-a-minute", "EbbAnomalyActive", {ANOMALY: "1 1 0x10"}, "3m"),
]


def _promtool_test(rule_file: Path, groups: list[dict[str, Any]], tmp_path: Path) -> None:
    test_file = tmp_path / "tests.yml"
    test_file.write_text(yaml.safe_dump({
        "rule_files": [str(rule_file)], "evaluation_interval": "1m", "tests": groups}))
    done = subprocess.run([_promtool(), "test", "rules", str(test_file)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"


def test_promtool_accepts_the_rule_file(rule_file: Path) -> None:
    done = subprocess.run([_promtool(), "check", "rules", str(rule_file)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(rules.recording_rules(SETTINGS)) + len(ALERTS)} rules found" in done.stdout


def test_every_alert_has_a_firing_and_a_silent_case() -> None:
    firing = {case.alert for case in CASES if case.labels is not None}
    silent = {case.alert for case in CASES if case.labels is None}
    assert firing == silent == set(ALERTS)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_alert(case: Case, rule_file: Path, tmp_path: Path) -> None:
    _promtool_test(rule_file, [case.test_group()], tmp_path)


def test_slo_on_a_whole_second_bucket_matches_both_le_spellings(tmp_path: Path) -> None:
    """The client writes le="1.0"; Prometheus 3 normalises it to le="1". Both count as good."""
    rule_file = export_rules(tmp_path, RuleSettings(slo_s=1.0))
    groups = []
    for spelling in ("1.0", "1"):
        bucket = f'{names.REQUEST_DURATION}_bucket{{{M},protocol="rest",le="{spelling}"}}'
        groups.append({
            "name": f"le={spelling}", "interval": "1m",
            "input_series": [{"series": bucket, "values": "0+30x10"},
                             {"series": COUNT, "values": "0+60x10"}],
            "promql_expr_test": [{
                "expr": rules.LATENCY_MISS_RATIO.format(window="5m"), "eval_time": "10m",
                "exp_samples": [{"labels": f'{rules.LATENCY_MISS_RATIO.format(window="5m")}'
                                           f'{{{M}}}', "value": 0.5}]}],
        })
    _promtool_test(rule_file, groups, tmp_path)


def test_slo_rounds_down_to_a_bucket_bound() -> None:
    assert slo_bucket(0.1) == 0.1
    assert slo_bucket(0.15) == 0.1
    assert slo_bucket(2.0) == 1.0
    assert le_matcher(0.025) == 'le="0.025"'
    assert le_matcher(5.0) == 'le=~"5|5.0"'
    with pytest.raises(ValueError, match="below the smallest latency bucket"):
        slo_bucket(0.0001)


@pytest.mark.parametrize("bad", [{"slo_target": 1.0}, {"slo_target": 0}, {"error_ratio": 2},
                                 {"stuck_queue_min_depth": 0}, {"slo_s": 0.0}])
def test_settings_refuse_nonsense(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RuleSettings(**bad)


def test_every_alert_carries_summary_description_and_runbook(rule_file: Path) -> None:
    document = yaml.safe_load(rule_file.read_text())
    alert_rules = [rule for group in document["groups"] for rule in group["rules"]
                   if "alert" in rule]
    assert {rule["alert"] for rule in alert_rules} == set(ALERTS)
    for rule in alert_rules:
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"]
        assert annotations["runbook_url"] == f"docs/alerts.md#{rule['alert'].lower()}"
        assert rule["labels"]["severity"] in {"critical", "warning"}


def test_runbook_has_a_paragraph_per_alert() -> None:
    runbook = (Path(__file__).parents[2] / "docs" / "alerts.md").read_text()
    headings = set(re.findall(r"^## (\w+)$", runbook, flags=re.MULTILINE))
    assert set(ALERTS) <= headings


def test_every_metric_name_comes_from_the_names_module(rule_file: Path) -> None:
    recorded = {rules.LATENCY_MISS_RATIO.format(window=window)
                for window in rules.BURN_RATE_WINDOWS}
    recorded |= {rules.ERROR_RATIO, rules.REJECTION_RATIO, rules.DESIRED_AT_MAX}
    known = {value + suffix
             for value in [*vars(names).values(), _names.ANOMALY_ACTIVE]
             if isinstance(value, str) and value.startswith("ebb_")
             for suffix in ("", "_total", "_bucket", "_count", "_info")}
    document = yaml.safe_load(rule_file.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            expr = rule["expr"]
            for name in recorded:
                expr = expr.replace(name, "")
            for metric in re.findall(r"\bebb_\w+", expr):
                assert metric in known, f"{rule.get('alert') or rule['record']}: {metric}"
            if "record" in rule:
                assert rule["record"] in recorded
