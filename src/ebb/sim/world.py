"""The simulated world, every assumption a parameter: service, cold start, batching, queue,
bounds, and the metrics pipeline between the gateway and each policy.

    world = World(service=ServiceModel(0.020, 0.002), cold_start=ColdStart(5.0),
                  slo_s=0.2, min_workers=1, max_workers=32)
    pipeline = PIPELINES["hpa"]          # Prometheus scrape 15 s, HPA sync 15 s

Defaults mirror `ebb serve` (batch of 32 after at most 2 ms, 1024 waiting requests) and the
published defaults of each system's signal path (see :data:`PIPELINES`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ebb.autoscale.policies.limits import check_bounds


def _lognormal_sigma(cv: float) -> float:
    """Sigma of a lognormal with coefficient of variation `cv` (std / mean)."""
    return math.sqrt(math.log1p(cv * cv))


@dataclass(frozen=True, slots=True)
class ServiceModel:
    """Wall time of one batch of ``n`` requests on one worker: ``(a + b x n) x noise``.

    The noise is 1 when `cv` is 0, else a lognormal with mean 1 and coefficient of variation
    `cv`, drawn per batch: inference times are skewed to the right, never negative. With
    `size_scaled` and a trace that has sizes (tokens), ``n`` becomes the batch's total size
    over the trace's mean size, so long prompts cost more while the mean cost stays ``a + b``.
    """

    fixed_s: float
    """a: per-batch overhead (dispatch, framework, kernel launch)."""
    per_item_s: float
    """b: added per request in the batch."""
    cv: float = 0.0
    size_scaled: bool = False
    size_unit: float | None = None
    """The size that costs one item; None: the mean size of the trace being simulated (pin
    it with `pin_size_unit` when slices of one trace are simulated apart)."""

    def __post_init__(self) -> None:
        if self.size_unit is not None and self.size_unit <= 0:
            raise ValueError(f"size_unit must be positive, got {self.size_unit}")
        if self.fixed_s < 0 or self.per_item_s < 0 or self.fixed_s + self.per_item_s <= 0:
            raise ValueError(f"service time needs a >= 0, b >= 0, a + b > 0; got a "
                             f"{self.fixed_s}, b {self.per_item_s}")
        if self.cv < 0:
            raise ValueError(f"service cv must not be negative, got {self.cv}")

    def mean_s(self, batch: float) -> float:
        """Mean wall time of a batch of `batch` requests."""
        return self.fixed_s + self.per_item_s * batch

    def capacity(self, batch: float) -> float:
        """Requests per second one busy worker answers at this batch size."""
        return batch / self.mean_s(batch)

    @property
    def sigma(self) -> float:
        return _lognormal_sigma(self.cv)


def pin_size_unit(world: World, sizes: NDArray[np.float64] | None) -> World:
    """`world` with the size unit fixed to the mean of `sizes` (when sizes scale service and
    no unit is set), so every slice of a trace charges a request the same."""
    service = world.service
    if not service.size_scaled or service.size_unit is not None or sizes is None:
        return world
    if len(sizes) == 0:
        return world
    unit = float(np.mean(sizes)) or 1.0
    return replace(world, service=replace(service, size_unit=unit))


def warm_start(world: World, arrivals: NDArray[np.float64], duration_s: float) -> World:
    """`world` starting with enough ready workers for the trace's opening rate (over its first
    minute, or tenth if shorter) at 80 % of a worker's capacity with full batches, within the
    bounds; unchanged if `initial_workers` is set. Every policy starts from this count."""
    if world.initial_workers is not None:
        return world
    span = min(60.0, duration_s / 10) if duration_s > 0 else 0.0
    if span <= 0:
        return world
    rate = int(np.searchsorted(arrivals, span, side="left")) / span
    needed = math.ceil(rate / (0.8 * world.service.capacity(world.max_batch_size)) - 1e-9)
    start = min(world.max_workers, max(world.min_workers, 1, needed))
    if world.cluster is not None:
        per_pod = world.cluster.workers_per_pod
        start = min(world.max_workers, world.cluster.pods(start) * per_pod)
    return replace(world, initial_workers=start)


def fit_service(batch_sizes: Sequence[float], durations_s: Sequence[float]) -> ServiceModel:
    """Fit ``a + b x n`` by least squares to measured batches, and the lognormal noise around
    it, so the simulator can replay a server's measured service times.

        model = fit_service([1, 1, 4, 8], [0.021, 0.020, 0.027, 0.035])
    """
    n = np.asarray(batch_sizes, dtype=np.float64)
    d = np.asarray(durations_s, dtype=np.float64)
    if len(n) != len(d) or len(n) < 2 or bool(np.any(d <= 0)):
        raise ValueError("need at least two (batch size, positive duration) samples")
    if float(np.ptp(n)) == 0:
        a, b = float(np.mean(d)) / 2, float(np.mean(d)) / (2 * float(n[0]))
    else:
        b, a = (float(v) for v in np.polyfit(n, d, 1))
        a, b = max(a, 0.0), max(b, 0.0)
    if a + b <= 0:
        a = float(np.mean(d))
    ratio = d / (a + b * n)
    sigma = float(np.std(np.log(ratio)))
    return ServiceModel(a, b, cv=math.sqrt(math.expm1(sigma * sigma)))


@dataclass(frozen=True, slots=True)
class ColdStart:
    """Seconds from ordering a worker to its first batch (process start, model load).

    Lognormal with mean `mean_s` and coefficient of variation `cv`; fixed when `cv` is 0.
    """

    mean_s: float
    cv: float = 0.0

    def __post_init__(self) -> None:
        if self.mean_s < 0 or self.cv < 0:
            raise ValueError(f"cold start needs mean >= 0 and cv >= 0, got {self.mean_s}, "
                             f"{self.cv}")

    @property
    def sigma(self) -> float:
        return _lognormal_sigma(self.cv)


@dataclass(frozen=True, slots=True)
class Pipeline:
    """How a policy's signals reach it, and how often it is asked.

    The gateway's counters are sampled every `scrape_interval_s`; a sample becomes visible to
    the policy `reporting_lag_s` later; the policy runs every `decision_period_s` on the newest
    visible sample. Rates are derived from the samples over `rate_window_s`, as the live
    sources do. Worker counts are always fresh: a controller reads them from its own actuator
    (or the Kubernetes scale subresource), not from the metrics path.
    """

    name: str
    scrape_interval_s: float
    decision_period_s: float
    reporting_lag_s: float = 0.0
    rate_window_s: float = 5.0
    scrape_phase_s: float = 0.0
    """When the first scrape happens. Scrapes and decisions of separate systems are not in
    step; half a scrape interval makes the mean sample age at a decision half an interval."""
    signal: Literal["gateway", "cpu"] = "gateway"
    """What is scraped: the gateway's counters, or (an HPA on CPU utilisation) the CPU the
    busy workers burn, averaged over each scrape interval as metrics-server reports it."""

    def __post_init__(self) -> None:
        if self.scrape_interval_s <= 0 or self.decision_period_s <= 0:
            raise ValueError(f"pipeline {self.name}: intervals must be positive")
        if self.reporting_lag_s < 0 or self.rate_window_s <= 0 or self.scrape_phase_s < 0:
            raise ValueError(f"pipeline {self.name}: lag must not be negative and the rate "
                             f"window must be positive")

    def describe(self) -> str:
        text = (f"scrape {self.scrape_interval_s:g} s, decide every "
                f"{self.decision_period_s:g} s")
        if self.reporting_lag_s:
            text += f", lag {self.reporting_lag_s:g} s"
        if self.scrape_phase_s:
            text += f", scrape phase {self.scrape_phase_s:g} s"
        return text

    def ideal(self) -> Pipeline:
        """The same decision period, with signals read fresh at every decision."""
        return Pipeline("ideal signals", self.decision_period_s, self.decision_period_s, 0.0,
                        5.0 if self.signal == "gateway" else self.decision_period_s, 0.0,
                        self.signal)


PIPELINES: Mapping[str, Pipeline] = MappingProxyType({
    "ebb": Pipeline("in-process", 0.5, 0.5, 0.0, 5.0, 0.0),
    "hpa": Pipeline("Prometheus 15 s + HPA sync 15 s", 15.0, 15.0, 0.0, 30.0, 7.5),
    "keda": Pipeline("Prometheus 15 s + KEDA poll 30 s / HPA sync 15 s", 15.0, 15.0, 0.0, 30.0,
                     7.5),
    "kpa": Pipeline("KPA scrape 1 s, decider tick 2 s", 1.0, 1.0, 0.0, 5.0, 0.5),
    "ray": Pipeline("Ray metrics push 10 s, control loop 0.1 s", 10.0, 0.1, 0.0, 30.0, 5.0),
})
"""Each system's published signal path, as deployed by default.

- ebb: the gateway's counters read in-process every 0.5 s (the controller's interval).
- hpa: Prometheus scrapes every 15 s; the HPA syncs every 15 s (the policy's own sync period
  counts the 15 s, so it is called every 15 s). Scrapes fall half-way between syncs, so a
  sample is 7.5 s old at a sync, and a change waits up to another 15 s for the sync:
  "15 s + 15 s". Rates over 30 s, as the Prometheus source's default window.
- keda: the same Prometheus; KEDA's 30 s activation poll and its HPA's 15 s sync live in the
  policy, which is called every 15 s.
- kpa: the autoscaler scrapes every 1 s into 1 s buckets (the policy is called every 1 s to
  record them, on samples half a second old); the decider runs on its own 2 s tick inside
  the policy.
- ray: replicas push metrics every 10 s (half a push out of step with the loop); the
  controller loop runs every 0.1 s on the last push.
"""


KUBERNETES_POLICIES = ("ebb", "hpa", "keda", "kpa", "hpa-cpu")
"""What `--policy all` compares in the kubernetes world: the Ebb controller, an HPA on queue
depth through prometheus-adapter, KEDA, Knative's KPA, and the textbook HPA on CPU."""


@dataclass(frozen=True, slots=True)
class Cluster:
    """The kubernetes world: workers come in pods of `workers_per_pod`, ordered, started and
    stopped together (the world's cold start is then the pod's: scheduling, image pull, model
    load), and each system reads its signals over its path on a cluster (`pipeline`).
    Every number's source is in docs/simulator.md ("The kubernetes world")."""

    workers_per_pod: int = 1
    controller_interval_s: float = 0.5
    """`ebb controller --interval-s` (its default): scrape every pod's /metrics, then decide
    and write /scale."""
    scrape_age_s: float = 0.1
    """How old the controller's sample is when it decides (pods scraped in parallel)."""
    prometheus_scrape_s: float = 5.0
    """The scrape interval of the PodMonitor `ebb k8s render` writes (prometheus-operator's
    default without one: 30 s)."""
    metrics_resolution_s: float = 15.0
    """metrics-server's `--metric-resolution` (15 s in its published manifests)."""
    hpa_sync_s: float = 15.0
    """kube-controller-manager's `--horizontal-pod-autoscaler-sync-period`."""

    def __post_init__(self) -> None:
        if self.workers_per_pod < 1:
            raise ValueError(f"workers per pod must be at least 1, got {self.workers_per_pod}")
        if min(self.controller_interval_s, self.prometheus_scrape_s,
               self.metrics_resolution_s, self.hpa_sync_s) <= 0 or self.scrape_age_s < 0:
            raise ValueError("cluster intervals must be positive and the scrape age not "
                             "negative")

    def pods(self, workers: int) -> int:
        """Pods holding `workers`, rounded up (as `ebb controller` turns workers into pods)."""
        return -(-workers // self.workers_per_pod)

    def pipeline(self, policy: str) -> Pipeline:
        """The signal path of `policy`'s system on a cluster."""
        scrape, sync = self.prometheus_scrape_s, self.hpa_sync_s
        if policy == "ebb":
            tick = self.controller_interval_s
            return Pipeline(f"ebb controller: every pod's /metrics each {tick:g} s", tick,
                            tick, 0.0, 5.0, max(0.0, tick - self.scrape_age_s))
        if policy in ("hpa", "keda"):
            via = "prometheus-adapter" if policy == "hpa" else "KEDA (poll 30 s)"
            return Pipeline(f"Prometheus {scrape:g} s + {via} + HPA sync {sync:g} s", scrape,
                            sync, 0.0, max(30.0, 2 * scrape), scrape / 2)
        if policy == "hpa-cpu":
            res = self.metrics_resolution_s
            return Pipeline(f"metrics-server {res:g} s + HPA sync {sync:g} s (CPU)", res, sync,
                            0.0, res, res / 2, "cpu")
        return PIPELINES[policy]


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """A policy by name with its knobs, and the label shown in reports."""

    name: str
    knobs: Mapping[str, object] = field(default_factory=dict)
    label: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name


@dataclass(frozen=True, slots=True)
class World:
    """Everything about the served model and the deployment that is not the traffic or the
    policy. Defaults are `ebb serve`'s where it has one."""

    service: ServiceModel
    cold_start: ColdStart
    slo_s: float
    min_workers: int = 1
    max_workers: int = 32
    initial_workers: int | None = None
    """Ready workers at t = 0; None: `min_workers` (at least 1). `compare` sizes it to the
    trace's opening demand (`warm_start`), so no policy is judged on a cold first minute."""
    max_batch_size: int = 32
    max_delay_s: float = 0.002
    queue_bound: int = 1024
    """Requests waiting (not yet given to a worker) before new ones are refused."""
    drain_s: float = 60.0
    """After the trace ends, how long answering continues; still waiting then: a miss."""
    sample_interval_s: float = 0.0
    """Timeline resolution; 0: a 500th of the trace (at least 10 ms)."""
    scale_in_delay_s: float = 30.0
    """The host's scale-in delay, given to policies that have the knob (`ebb serve
    --scale-in-delay-s`, the same default); a policy knob set explicitly wins over it."""
    cluster: Cluster | None = None
    """None: one machine (`--world local`); else pods on Kubernetes, where every worker
    count (bounds, start) is a whole number of pods."""

    def __post_init__(self) -> None:
        if self.slo_s <= 0:
            raise ValueError(f"slo must be positive, got {self.slo_s}")
        check_bounds(self.min_workers, self.max_workers)
        if self.initial_workers is not None and not (
                0 <= self.initial_workers <= self.max_workers):
            raise ValueError(f"initial_workers {self.initial_workers} outside 0..max_workers")
        if self.max_batch_size < 1 or self.max_delay_s < 0 or self.queue_bound < 1:
            raise ValueError("need max_batch_size >= 1, max_delay_s >= 0, queue_bound >= 1")
        if self.drain_s < 0 or self.sample_interval_s < 0 or self.scale_in_delay_s < 0:
            raise ValueError("drain_s, sample_interval_s and scale_in_delay_s must not be "
                             "negative")
        if self.cluster is not None:
            per_pod = self.cluster.workers_per_pod
            counts = (self.min_workers, self.max_workers, self.initial_workers or 0)
            if any(count % per_pod for count in counts):
                raise ValueError(f"worker bounds and start must be whole pods of {per_pod}, "
                                 f"got {counts}")

    @property
    def start_workers(self) -> int:
        if self.initial_workers is not None:
            return self.initial_workers
        return max(1, self.min_workers)

    def sample_step(self, duration_s: float) -> float:
        if self.sample_interval_s > 0:
            return self.sample_interval_s
        return max(0.01, duration_s / 500)
