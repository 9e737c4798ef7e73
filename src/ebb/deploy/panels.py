"""What each Grafana dashboard shows, as data: rows of panels of PromQL, and annotations.

:mod:`ebb.deploy.dashboards` turns these specs into Grafana JSON; keeping them apart lets a panel
be added or reworded without reading the builder. Every query selects the models of the
``$model`` dashboard variable and uses the names in :mod:`ebb.metrics.names`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grafana_foundation_sdk.models import units

from ebb.metrics import names
from ebb.metrics import names as _names

MODEL_VARIABLE = "model"
RATE = "$__rate_interval"
MODEL = f'model=~"${MODEL_VARIABLE}"'
GRID_COLUMNS = 24
QUANTILES = (0.5, 0.95, 0.99)

# Series that exist only once the anomaly detector exports them (see ebb.deploy._names).
ANOMALY_METRICS = (_names.ANOMALY_SCORE, _names.ANOMALY_ACTIVE)


@dataclass(frozen=True, slots=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True, slots=True)
class PanelSpec:
    """One time-series panel: what it shows, in which unit, how wide (of 24 columns)."""

    title: str
    description: str
    unit: str
    queries: tuple[Query, ...]
    width: int = 12
    min_value: float | None = 0.0


@dataclass(frozen=True, slots=True)
class RowSpec:
    title: str
    panels: tuple[PanelSpec, ...]


@dataclass(frozen=True, slots=True)
class Annotation:
    """A PromQL annotation: every non-zero sample marks the time axis of every panel."""

    name: str
    expr: str
    color: str
    title: str
    tags: tuple[str, ...]
    text: str = ""


@dataclass(frozen=True, slots=True)
class DashboardSpec:
    uid: str
    title: str
    description: str
    file_name: str
    rows: tuple[RowSpec, ...]
    annotations: tuple[Annotation, ...] = field(default=())


def _rate(metric: str, matchers: str = "") -> str:
    selector = MODEL if not matchers else f"{MODEL},{matchers}"
    return f"rate({metric}{{{selector}}}[{RATE}])"


def _quantiles(histogram: str) -> tuple[Query, ...]:
    return tuple(
        Query(f"histogram_quantile({q:g}, sum by (model, le) ({_rate(histogram + '_bucket')}))",
              f"{{{{model}}}} p{q * 100:g}")
        for q in QUANTILES)


def _with_zero(numerator: str, denominator_metric: str) -> str:
    """``numerator`` per model, or 0 where the model has traffic but no matching series yet
    (a server that never answered 5xx has no ``code="5xx"`` series at all)."""
    return f"({numerator} or sum by (model) ({_rate(denominator_metric)}) * 0)"


_REQUESTS = f"{names.REQUESTS}_total"
_SERVER_ERRORS = "sum by (model) (" + _rate(_REQUESTS, 'code=~"5.."') + ")"
_ANSWERED = "sum by (model) (" + _rate(_REQUESTS, 'code=~"2.."') + ")"
_WORKER_CPU = f"{names.WORKER_CPU}_total"

TRAFFIC = RowSpec("Traffic", (
    PanelSpec("Request rate by code", "Answered requests per second by HTTP status (gRPC "
              "answers counted by the HTTP status of the same outcome).", units.RequestsPerSecond,
              (Query(f"sum by (model, code) ({_rate(_REQUESTS)})", "{{model}} {{code}}"),),
              width=8),
    PanelSpec("Rejections and errors", "Requests refused because the queue was full (503), "
              "answered with a server error (5xx, rejections included), or whose deadline "
              "passed while queued.", units.RequestsPerSecond, (
                  Query(f"sum by (model) ({_rate(names.QUEUE_REJECTIONS + '_total')})",
                        "{{model}} rejected (queue full)"),
                  Query(_with_zero(_SERVER_ERRORS, _REQUESTS), "{{model}} 5xx"),
                  Query(f"sum by (model) ({_rate(names.REQUEST_EXPIRATIONS + '_total')})",
                        "{{model}} expired in queue"),
              ), width=8),
    PanelSpec("Error ratio (5xx)", "Share of answers that were server errors.",
              units.PercentUnit,
              (Query(f"{_with_zero(_SERVER_ERRORS, _REQUESTS)} / "
                     f"sum by (model) ({_rate(_REQUESTS)})", "{{model}}"),),
              width=8),
))

LATENCY = RowSpec("Latency", (
    PanelSpec("Request latency p50 / p95 / p99", "Decoded request to encoded answer, from the "
              f"{names.REQUEST_DURATION} histogram.", units.Seconds,
              _quantiles(names.REQUEST_DURATION), width=8),
    PanelSpec("Queue wait p50 / p95 / p99", "Time a request waited before a worker took it: "
              "the part of latency that more workers remove.", units.Seconds,
              _quantiles(names.QUEUE_WAIT), width=8),
    PanelSpec("Inference time per batch p50 / p95 / p99", "Time a worker spent running one "
              "batch.", units.Seconds, _quantiles(names.INFERENCE_DURATION), width=8),
))

QUEUE = RowSpec("Queue and batching", (
    PanelSpec("Queue depth and in-flight", "Requests waiting in the queue, and requests being "
              "run by workers (read at scrape time).", units.Short, (
                  Query(f"sum by (model) ({names.QUEUE_DEPTH}{{{MODEL}}})", "{{model}} queued"),
                  Query(f"sum by (model) ({names.INFLIGHT_REQUESTS}{{{MODEL}}})",
                        "{{model}} in flight"),
              ), width=8),
    PanelSpec("Queue fill", "Queue depth as a share of its bound (max_queue_size); at 100 % "
              "new requests are refused.", units.PercentUnit,
              (Query(f"max by (model) ({names.QUEUE_DEPTH}{{{MODEL}}} / "
                     f"{names.QUEUE_CAPACITY}{{{MODEL}}})", "{{model}}"),),
              width=8),
    PanelSpec("Batch size", "Requests per batch: the mean, and the 95th percentile.",
              units.Short, (
                  Query(f"sum by (model) ({_rate(names.BATCH_SIZE + '_sum')}) / "
                        f"sum by (model) ({_rate(names.BATCH_SIZE + '_count')})",
                        "{{model}} mean"),
                  Query(f"histogram_quantile(0.95, sum by (model, le) "
                        f"({_rate(names.BATCH_SIZE + '_bucket')}))", "{{model}} p95"),
              ), width=8),
))

WORKERS = RowSpec("Workers and scaling", (
    PanelSpec("Workers: desired / ready / starting", "What the autoscaler wants against the "
              "worker processes by state.", units.Short, (
                  Query(f"max by (model, policy) ({names.AUTOSCALER_DESIRED}{{{MODEL}}})",
                        "{{model}} desired ({{policy}})"),
                  Query(f'sum by (model, state) ({names.WORKERS}{{{MODEL},'
                        f'state=~"ready|starting|draining"}})', "{{model}} {{state}}"),
              )),
    PanelSpec("Scaling decisions", "Autoscaler ticks per second by the direction decided; "
              "hold shows the controller is alive. Up and down are also annotations.",
              units.OpsPerSecond,
              (Query(f"sum by (model, direction) "
                     f"({_rate(names.AUTOSCALER_DECISIONS + '_total')})",
                     "{{model}} {{direction}}"),)),
))

EFFICIENCY = RowSpec("Compute efficiency", (
    PanelSpec("Worker CPU", "CPU time per second of each worker process (1.0 = one core).",
              units.PercentUnit,
              (Query(f"sum by (model, worker) ({_rate(_WORKER_CPU)})",
                     "{{model}} worker {{worker}}"),), width=8),
    PanelSpec("Worker memory", "Resident memory of each worker process.", units.BytesIEC,
              (Query(f"sum by (model, worker) ({names.WORKER_MEMORY}{{{MODEL}}})",
                     "{{model}} worker {{worker}}"),), width=8),
    PanelSpec("Inferences per CPU-second", "Successful answers per second of worker CPU: "
              "efficiency, not load. A drop at the same traffic means each inference costs "
              "more.", units.Short,
              (Query(f"{_ANSWERED} / sum by (model) ({_rate(_WORKER_CPU)})", "{{model}}"),),
              width=8),
))

_WORKER_GPU = f"avg_over_time({names.WORKER_GPU_UTILISATION}{{{MODEL}}}[{RATE}])"

GPU = RowSpec("GPU efficiency (NVML; empty on CPU-only servers)", (
    PanelSpec("Worker GPU utilisation", "Share of GPU multiprocessor time each worker used "
              "(1.0 = one whole GPU), as NVML attributes it to the worker's process.",
              units.PercentUnit,
              (Query(f"sum by (model, worker) ({names.WORKER_GPU_UTILISATION}{{{MODEL}}})",
                     "{{model}} worker {{worker}}"),), width=8),
    PanelSpec("Worker GPU memory", "GPU memory each worker process holds.", units.BytesIEC,
              (Query(f"sum by (model, worker) ({names.WORKER_GPU_MEMORY}{{{MODEL}}})",
                     "{{model}} worker {{worker}}"),), width=8),
    PanelSpec("Inferences per GPU-second", "Successful answers per second of GPU time the "
              "workers used: batching shows here as more inferences for the same GPU time.",
              units.Short,
              (Query(f"{_ANSWERED} / sum by (model) ({_WORKER_GPU})", "{{model}}"),), width=8),
))

ANOMALIES = RowSpec("Anomalies", (
    PanelSpec("Anomaly score by signal", "How far each signal (arrival rate, latency, queue "
              "wait, error ratio, input/output drift) is from its normal daily shape.",
              units.Short,
              (Query(f"max by (model, signal) ({_names.ANOMALY_SCORE})",
                     "{{signal}} {{model}}"),)),
    PanelSpec("Anomalies active", "1 while the detector flags a signal as anomalous.",
              units.Short,
              (Query(f"max by (model, signal) ({_names.ANOMALY_ACTIVE})",
                     "{{signal}} {{model}}"),)),
))

SCALING_DETAIL = RowSpec("Why the autoscaler did what it did", (
    PanelSpec("Queue depth against workers", "The queue the policy scales on, next to the "
              "workers it asked for and the workers ready.", units.Short, (
                  Query(f"sum by (model) ({names.QUEUE_DEPTH}{{{MODEL}}})", "{{model}} queued"),
                  Query(f"max by (model) ({names.AUTOSCALER_DESIRED}{{{MODEL}}})",
                        "{{model}} desired workers"),
                  Query(f'sum by (model) ({names.WORKERS}{{{MODEL},state="ready"}})',
                        "{{model}} ready workers"),
              ), width=GRID_COLUMNS),
    PanelSpec("Arrivals against completions", "Requests admitted to the queue and requests "
              "completed by workers, per second: a queue grows while the first is above the "
              "second.", units.RequestsPerSecond, (
                  Query(f"sum by (model) ({_rate(names.QUEUE_ADMISSIONS + '_total')})",
                        "{{model}} admitted"),
                  Query(f"sum by (model) ({_rate(names.BATCH_SIZE + '_sum')})",
                        "{{model}} completed"),
              )),
    PanelSpec("Scaling decisions by direction", "Autoscaler ticks per second by direction and "
              "policy.", units.OpsPerSecond,
              (Query(f"sum by (model, policy, direction) "
                     f"({_rate(names.AUTOSCALER_DECISIONS + '_total')})",
                     "{{model}} {{direction}} ({{policy}})"),)),
    PanelSpec("Worker cold start", "Spawn to model loaded and ready, over every start since "
              "the server started (starts are rare, so a rate window would mostly be empty).",
              units.Seconds, tuple(
                  Query(f"histogram_quantile({q:g}, sum by (model, le) "
                        f"({names.WORKER_START}_bucket{{{MODEL}}}))", f"{{{{model}}}} p{q * 100:g}")
                  for q in (0.5, 0.95))),
    PanelSpec("Worker restarts", "Workers that died and were replaced (their batch is retried "
              "once on another worker).", units.Short,
              (Query(f"sum by (model) (increase({names.WORKER_RESTARTS}_total{{{MODEL}}}"
                     f"[{RATE}]))", "{{model}}"),)),
))

ANNOTATIONS = (
    Annotation("Scaling decisions",
               f"sum by (model, policy, direction) (increase({names.AUTOSCALER_DECISIONS}_total"
               f'{{{MODEL},direction!="hold"}}[{RATE}])) > 0',
               "blue", "Scale {{direction}}", ("model", "policy", "direction"),
               "{{policy}} policy scaled {{model}} {{direction}}"),
    Annotation("Queue rejections",
               f"sum by (model) (increase({names.QUEUE_REJECTIONS}_total{{{MODEL}}}[{RATE}]))"
               " > 0", "orange", "Queue full: requests rejected", ("model",)),
    Annotation("Server errors",
               f'sum by (model, code) (increase({_REQUESTS}{{{MODEL},code=~"5.."}}[{RATE}]))'
               " > 0", "red", "{{code}} answers", ("model", "code")),
    Annotation("Anomalies", f"max by (model, signal) ({_names.ANOMALY_ACTIVE}) > 0", "purple",
               "Anomaly in {{signal}}", ("model", "signal")),
)

DASHBOARDS = (
    DashboardSpec("ebb-overview", "Ebb: inference service",
                  "Traffic, latency, queue, workers, scaling, efficiency and anomalies of the "
                  "models Ebb serves.", "ebb-overview.json",
                  (TRAFFIC, LATENCY, QUEUE, WORKERS, EFFICIENCY, GPU, ANOMALIES), ANNOTATIONS),
    DashboardSpec("ebb-autoscaling", "Ebb: autoscaling",
                  "Why the autoscaler did what it did: the queue it scales on, the workers it "
                  "asked for, decisions, cold starts.", "ebb-autoscaling.json",
                  (SCALING_DETAIL,), ANNOTATIONS[:3]),
)
