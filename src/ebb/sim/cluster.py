"""What the kubernetes world adds to the simulator's seams: the textbook HPA on CPU
utilisation (`hpa-cpu`), and the CPU signal it reads through metrics-server.

CPU is modelled from busy workers: a worker busy on a batch burns one core, an idle one none,
and each pod requests one core per worker. metrics-server reports each pod's usage averaged
over its resolution; the HPA divides by the request. The policy is the production `HpaPolicy`
on a Pods metric with an AverageValue target of ``target x 1000`` milli-cores per worker:
``ceil(usage / target)`` with the HPA's tolerance, unready-pod rule, stabilisation and rate
limits, which is the arithmetic of a Resource metric at ``averageUtilization: target``.

Why CPU is a poor signal for inference: a worker cannot burn more than its core, so usage
saturates at 100 % of the request whatever the queue. At 2x or at 10x overload the HPA reads
the same 100 % and grows by at most ``1 / target`` (x1.25 at 80 %) per sync.

    source = CpuSignals(pipeline, slo_s, fleet)
    policy = build_sim_policy(PolicySpec("hpa-cpu"), world)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from ebb.autoscale.policies import Limits, build_policy
from ebb.autoscale.sources.counters import GatewayCounters
from ebb.autoscale.types import Policy, ScalingInput
from ebb.sim.fleet import Fleet
from ebb.sim.world import Pipeline, PolicySpec, World

CPU_POLICY = "hpa-cpu"
CPU_TARGET_UTILISATION = 0.8
"""The textbook HPA's `averageUtilization: 80`."""
MILLI = 1000


def knob_policy(name: str) -> str:
    """The registered policy whose knobs `name` takes (hpa-cpu is an HPA)."""
    return "hpa" if name == CPU_POLICY else name


def cpu_knobs(knobs: Mapping[str, object]) -> dict[str, object]:
    """hpa-cpu's knobs as the HPA's: `target` is a utilisation (0.8 = 80 % of the request),
    turned into milli-cores per worker; the metric never includes requests in flight."""
    typed = dict(knobs)
    utilisation = typed.pop("target", CPU_TARGET_UTILISATION)
    if not isinstance(utilisation, int | float) or not 0 < utilisation <= 1:
        raise ValueError(f"hpa-cpu.target is a utilisation in (0, 1], got {utilisation!r}")
    typed["target"] = float(utilisation) * MILLI
    typed["include_inflight"] = False
    return typed


def build_sim_policy(spec: PolicySpec, world: World) -> Policy[Any]:
    """The policy of `spec` as `ebb serve` (or, for hpa-cpu, an HPA) builds it in `world`."""
    limits = Limits(world.min_workers, world.max_workers)
    if spec.name == CPU_POLICY:
        return build_policy("hpa", cpu_knobs(spec.knobs), limits)
    return build_policy(spec.name, spec.knobs, limits, scale_in_delay_s=world.scale_in_delay_s,
                        max_batch_size=world.max_batch_size)


def utilisation(milli_cores: int, ready_workers: int) -> float:
    """CPU utilisation of the ready workers' requests (one core each) from a CPU reading."""
    return milli_cores / (MILLI * ready_workers) if ready_workers else 0.0


class CpuSignals:
    """A `SignalSource` of metrics-server's CPU: mean cores burnt over each scrape interval
    (cumulative busy worker-seconds, differenced), visible after the pipeline's lag.

    The reading travels in `queue_depth` as milli-cores (an HPA reads one metric; `inflight`
    is 0), so the production `HpaPolicy` does the HPA's arithmetic on it unchanged."""

    def __init__(self, pipeline: Pipeline, slo_s: float, fleet: Fleet) -> None:
        self._lag = pipeline.reporting_lag_s
        self._slo_s = slo_s
        self._fleet = fleet
        self._last: tuple[float, float] | None = None
        self._pending: deque[tuple[float, int]] = deque()
        self._visible: int | None = None

    def scrape(self, now: float, counters: GatewayCounters) -> None:
        """Counters at `now`; their batch seconds are the cores' cumulative busy time."""
        last, self._last = self._last, (now, counters.batch_seconds)
        if last is not None and now > last[0]:
            cores = (counters.batch_seconds - last[1]) / (now - last[0])
            self._pending.append((now, round(cores * MILLI)))

    async def read(self, now: float) -> ScalingInput:
        pending = self._pending
        while pending and pending[0][0] + self._lag <= now:
            self._visible = pending.popleft()[1]
        fleet = self._fleet
        ready, starting = fleet.ready_count, len(fleet.starting)
        if self._visible is None:
            return ScalingInput.without_signal(now, ready, starting, self._slo_s)
        return ScalingInput(now, ready + starting, ready, starting, self._visible, 0, 0.0, 0.0,
                            0.0, 1.0, self._slo_s)
