"""Prometheus recording and alerting rules for Ebb, generated from code (``ebb rules export``).

The rules use the metric names in :mod:`ebb.metrics.names` and nothing else, aggregate over every
pod that serves a model (``sum by (model)``), and are checked by ``promtool check rules`` and unit
tested by ``promtool test rules`` in the suite. Each alert links its runbook paragraph in
``docs/alerts.md`` (anchor: the alert name in lower case)::

    path = export_rules(Path("deploy"), RuleSettings(slo_s=0.2, slo_target=0.995))

Latency SLO alerts follow the multi-window, multi-burn-rate recipe of the Google SRE workbook:
a request is *good* when it was answered within the SLO latency, i.e. it fell in the histogram
bucket ``le=<SLO>``; the error budget is ``1 - slo_target``; the fast alert pages when the last
hour *and* the last five minutes both burn the budget 14.4 times faster than allowed (2 % of a
30-day budget in an hour), the slow one when six hours and thirty minutes both burn it 6 times
faster. The short window makes an alert stop soon after the burn stops, so no ``for`` is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ebb.metrics import names
from ebb.metrics import names as _names

RULES_FILE = "ebb-rules.yml"
DEFAULT_RUNBOOK_URL = "docs/alerts.md"

# Recorded series (``level:metric:operations``); alerts and dashboards may read them.
LATENCY_MISS_RATIO = "model:ebb_request_latency_slo_miss:ratio_rate{window}"
ERROR_RATIO = "model:ebb_requests_5xx:ratio_rate5m"
REJECTION_RATIO = "model:ebb_queue_rejections:ratio_rate5m"
DESIRED_AT_MAX = "model_policy:ebb_autoscaler_desired_workers:at_max"

BURN_RATE_WINDOWS = ("5m", "30m", "1h", "6h")


@dataclass(frozen=True, slots=True)
class BurnRateAlert:
    """Fire when both windows burn the error budget ``factor`` times faster than allowed."""

    name: str
    long_window: str
    short_window: str
    factor: float
    severity: str


BURN_RATE_ALERTS = (
    BurnRateAlert("EbbLatencyBudgetBurnFast", "1h", "5m", 14.4, "critical"),
    BurnRateAlert("EbbLatencyBudgetBurnSlow", "6h", "30m", 6.0, "warning"),
)


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """The thresholds the rules are rendered with; defaults suit an interactive model."""

    slo_s: float = 0.1
    """Latency SLO: a request answered within this many seconds is good. Rounded down to a
    histogram bucket bound of ``ebb_request_duration_seconds`` (see :func:`slo_bucket`)."""
    slo_target: float = 0.99
    """Fraction of requests that must be good (0.99: 1 % error budget)."""
    queue_fill_ratio: float = 0.8
    """Queue depth / queue capacity above which the queue is near saturation."""
    rejection_ratio: float = 0.01
    """Fraction of arrivals refused with 503 (queue full) that is too many."""
    error_ratio: float = 0.05
    """Fraction of answers that are 5xx (rejections included) that is too many."""
    workers_at_max_for: str = "15m"
    """How long the autoscaler may want its maximum before it is worth a look."""
    stuck_queue_min_depth: int = 5
    """Queue depth below which a growing queue is not yet a stuck autoscaler."""
    runbook_url: str = DEFAULT_RUNBOOK_URL
    """Where docs/alerts.md is published; each alert appends ``#<alert name in lower case>``."""

    def __post_init__(self) -> None:
        if not 0 < self.slo_target < 1:
            raise ValueError(f"slo_target must be between 0 and 1 (exclusive), "
                             f"not {self.slo_target}")
        for field in ("queue_fill_ratio", "rejection_ratio", "error_ratio"):
            value = getattr(self, field)
            if not 0 < value < 1:
                raise ValueError(f"{field} must be between 0 and 1 (exclusive), not {value}")
        if self.stuck_queue_min_depth < 1:
            raise ValueError(f"stuck_queue_min_depth must be at least 1, "
                             f"not {self.stuck_queue_min_depth}")
        slo_bucket(self.slo_s)

    @property
    def error_budget(self) -> float:
        return 1.0 - self.slo_target


@dataclass(frozen=True, slots=True)
class Alert:
    name: str
    expr: str
    severity: str
    summary: str
    description: str
    for_: str | None = None

    @property
    def anchor(self) -> str:
        """The heading anchor of this alert's paragraph in docs/alerts.md."""
        return self.name.lower()


def slo_bucket(slo_s: float) -> float:
    """The largest latency bucket bound at or below ``slo_s``: "good" can only be counted at a
    bucket bound, and rounding down never calls a slow request good."""
    usable = [bound for bound in names.LATENCY_BUCKETS if bound <= slo_s * (1 + 1e-9)]
    if not usable:
        raise ValueError(f"a latency SLO of {slo_s * 1000:g} ms is below the smallest latency "
                         f"bucket ({names.LATENCY_BUCKETS[0] * 1000:g} ms)")
    return usable[-1]


def le_matcher(bound: float) -> str:
    """A label matcher for one bucket bound, as the client writes it (``1.0``) and as
    Prometheus 3 normalises it (``1``)."""
    if float(bound).is_integer():
        whole = int(bound)
        return f'le=~"{whole}|{whole}.0"'
    return f'le="{bound!r}"'


def _number(value: float) -> str:
    return f"{value:.6g}"


def recording_rules(settings: RuleSettings) -> list[dict[str, str]]:
    good = le_matcher(slo_bucket(settings.slo_s))
    rules = []
    for window in BURN_RATE_WINDOWS:
        rules.append({
            "record": LATENCY_MISS_RATIO.format(window=window),
            "expr": (
                f"1 - (\n"
                f"  sum by (model) (rate({names.REQUEST_DURATION}_bucket{{{good}}}[{window}]))\n"
                f"  /\n"
                f"  sum by (model) (rate({names.REQUEST_DURATION}_count[{window}]))\n"
                f")\n"),
        })
    requests = f"{names.REQUESTS}_total"
    rejections = f"{names.QUEUE_REJECTIONS}_total"
    admissions = f"{names.QUEUE_ADMISSIONS}_total"
    rules += [
        {"record": ERROR_RATIO,
         "expr": (f'sum by (model) (rate({requests}{{code=~"5.."}}[5m]))\n'
                  f"/\n"
                  f"sum by (model) (rate({requests}[5m]))\n")},
        {"record": REJECTION_RATIO,
         "expr": (f"sum by (model) (rate({rejections}[5m]))\n"
                  f"/\n"
                  f"(\n"
                  f"  sum by (model) (rate({admissions}[5m]))\n"
                  f"  +\n"
                  f"  sum by (model) (rate({rejections}[5m]))\n"
                  f")\n")},
        # PromQL cannot read a label as a number, but count_values turns the desired count into
        # a label, which then joins the max_workers label of the policy info series.
        {"record": DESIRED_AT_MAX,
         "expr": (f'count_values by (model, policy) ("max_workers",\n'
                  f"  max by (model, policy) ({names.AUTOSCALER_DESIRED})\n"
                  f")\n"
                  f"* on (model, policy, max_workers)\n"
                  f"max by (model, policy, max_workers) ({names.AUTOSCALER_POLICY}_info)\n")},
    ]
    return rules


def alerts(settings: RuleSettings) -> list[Alert]:
    """Every alert, in the order of the rule file and of docs/alerts.md."""
    return [*_latency_alerts(settings), *_saturation_alerts(settings),
            *_scaling_alerts(settings), *_anomaly_alerts()]


def _latency_alerts(settings: RuleSettings) -> list[Alert]:
    """The multi-window burn-rate alerts on the latency SLO."""
    budget = _number(settings.error_budget)
    slo_ms = f"{slo_bucket(settings.slo_s) * 1000:g} ms"
    target = f"{settings.slo_target * 100:g}%"
    found: list[Alert] = []
    for burn in BURN_RATE_ALERTS:
        long_ratio = LATENCY_MISS_RATIO.format(window=burn.long_window)
        short_ratio = LATENCY_MISS_RATIO.format(window=burn.short_window)
        factor = _number(burn.factor)
        found.append(Alert(
            burn.name,
            f"{long_ratio} / {budget} > {factor}\nand\n{short_ratio} / {budget} > {factor}\n",
            burn.severity,
            f"{{{{ $labels.model }}}} burns its latency error budget {factor}x too fast",
            f"Over the last {burn.long_window} and {burn.short_window}, more of "
            f"{{{{ $labels.model }}}}'s requests took longer than {slo_ms} than the SLO "
            f"({target} within {slo_ms}) allows: the {burn.long_window} burn rate is "
            f"{{{{ $value | humanize }}}}x. At {factor}x the whole budget lasts "
            f"{_budget_days(burn.factor)} days.",
        ))
    return found


def _saturation_alerts(settings: RuleSettings) -> list[Alert]:
    """What clients feel: a queue near its bound, a full queue refusing, server errors."""
    depth, capacity = names.QUEUE_DEPTH, names.QUEUE_CAPACITY
    fill = _number(settings.queue_fill_ratio)
    return [
        Alert(
            "EbbQueueNearCapacity",
            f"{depth} / {capacity} > {fill}\n",
            "warning",
            "{{ $labels.model }} queue on {{ $labels.instance }} is "
            "{{ $value | humanizePercentage }} full",
            f"The queue of {{{{ $labels.model }}}} on {{{{ $labels.instance }}}} has held more "
            f"than {settings.queue_fill_ratio:.0%} of its capacity for 2 minutes; when it is "
            f"full, new requests are refused with 503.",
            "2m"),
        Alert(
            "EbbQueueRejecting",
            f"{REJECTION_RATIO} > {_number(settings.rejection_ratio)}\n",
            "critical",
            "{{ $labels.model }} refuses {{ $value | humanizePercentage }} of requests "
            "(queue full)",
            f"For 2 minutes more than {settings.rejection_ratio:.0%} of the requests for "
            f"{{{{ $labels.model }}}} found the queue full and were answered 503 with a retry "
            f"hint.",
            "2m"),
        Alert(
            "EbbHighErrorRatio",
            f"{ERROR_RATIO} > {_number(settings.error_ratio)}\n",
            "critical",
            "{{ $labels.model }} answers {{ $value | humanizePercentage }} of requests with 5xx",
            f"For 5 minutes more than {settings.error_ratio:.0%} of the answers of "
            f"{{{{ $labels.model }}}} were server errors (5xx, queue-full 503s included).",
            "5m"),
    ]


def _scaling_alerts(settings: RuleSettings) -> list[Alert]:
    """An autoscaler at its maximum, one not acting on a growing queue, no ready worker."""
    depth = names.QUEUE_DEPTH
    return [
        Alert(
            "EbbWorkersAtMax",
            f"{DESIRED_AT_MAX}\n",
            "warning",
            "{{ $labels.model }} autoscaler wants its maximum of "
            "{{ $labels.max_workers }} workers",
            f"The {{{{ $labels.policy }}}} policy has asked for the maximum of "
            f"{{{{ $labels.max_workers }}}} workers for {{{{ $labels.model }}}} for "
            f"{settings.workers_at_max_for}: demand may be above what the service can scale "
            f"to.",
            settings.workers_at_max_for),
        Alert(
            "EbbAutoscalerNotActing",
            (f"sum by (model) ({depth}) >= {settings.stuck_queue_min_depth}\n"
             f"and on (model)\n"
             f"sum by (model) (deriv({depth}[5m])) > 0\n"
             f"and on (model)\n"
             f"max by (model) ({names.AUTOSCALER_POLICY}_info)\n"
             f"unless on (model)\n"
             f"sum by (model) (increase({names.AUTOSCALER_DECISIONS}_total"
             f'{{direction="up"}}[5m])) > 0\n'
             f"unless on (model)\n"
             f"{DESIRED_AT_MAX}\n"),
            "critical",
            "{{ $labels.model }} queue grows ({{ $value }} waiting) and the autoscaler does "
            "not scale up",
            "For 5 minutes the queue of {{ $labels.model }} has been growing (now "
            "{{ $value }} requests) while its autoscaler, below its maximum, decided no "
            "scale-up.",
            "5m"),
        Alert(
            "EbbNoReadyWorker",
            (f'sum by (model) ({names.WORKERS}{{state="ready"}}) == 0\n'
             f"and on (model)\n"
             f"sum by (model) (max_over_time({depth}[1m])) > 0\n"),
            "critical",
            "{{ $labels.model }} has requests waiting and no ready worker",
            "For 2 minutes {{ $labels.model }} has had requests in its queue and no worker "
            "ready to run them (scale-from-zero that never completes, or crashing workers).",
            "2m"),
    ]


def _anomaly_alerts() -> list[Alert]:
    return [
        Alert(
            "EbbAnomalyActive",
            f"max by (model, signal) ({_names.ANOMALY_ACTIVE}) > 0\n",
            "warning",
            "Anomaly in {{ $labels.signal }}{{ with $labels.model }} of {{ . }}{{ end }}",
            "The anomaly detector has flagged {{ $labels.signal }} as outside its normal "
            "daily shape for 2 minutes.",
            "2m"),
    ]


def _budget_days(factor: float) -> str:
    return f"{30 / factor:.2g}"


def _alert_rule(alert: Alert, settings: RuleSettings) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": alert.name, "expr": alert.expr}
    if alert.for_:
        rule["for"] = alert.for_
    rule["labels"] = {"severity": alert.severity}
    rule["annotations"] = {
        "summary": alert.summary,
        "description": alert.description,
        "runbook_url": f"{settings.runbook_url}#{alert.anchor}",
    }
    return rule


def rule_groups(settings: RuleSettings) -> dict[str, Any]:
    """The rule file as data: one group of recording rules, one of alerts."""
    return {"groups": [
        {"name": "ebb.recording", "rules": recording_rules(settings)},
        {"name": "ebb.alerts", "rules": [_alert_rule(a, settings) for a in alerts(settings)]},
    ]}


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def render_rules(settings: RuleSettings) -> str:
    """The YAML text of the rule file (multi-line expressions as literal blocks)."""
    bucket = slo_bucket(settings.slo_s)
    header = (f"# Ebb recording and alerting rules, generated by `ebb rules export`.\n"
              f"# Latency SLO: {settings.slo_target * 100:g}% of requests within "
              f"{bucket * 1000:g} ms")
    if not math.isclose(bucket, settings.slo_s):
        header += f" (the bucket bound at or below the requested {settings.slo_s * 1000:g} ms)"
    header += ".\n"
    body = yaml.dump(rule_groups(settings), Dumper=_Dumper, sort_keys=False, width=10_000)
    return header + body


def export_rules(out_dir: Path, settings: RuleSettings | None = None) -> Path:
    """Write ``ebb-rules.yml`` into ``out_dir`` (created if missing) and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / RULES_FILE
    path.write_text(render_rules(settings or RuleSettings()))
    return path
