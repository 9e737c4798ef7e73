"""Tuning every policy on equal terms: the same number of settings each, chosen on a training
slice of the trace and reported on the held-out rest.

A baseline run only with its published defaults may be a strawman (Knative's default target
of 70 concurrent requests per pod suits web apps, not a model serving 50 requests/s), so each
policy's main knobs (its target, and a window or delay) are grid-searched. Selection rule:
among the settings reaching the target attainment on the training slice, the cheapest; if none
does, the one with the highest attainment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from types import MappingProxyType

from ebb.autoscale.policies.hpa import DEFAULT_SCALE_DOWN, Behavior, ScalingRules
from ebb.sim.compare import pipeline_for
from ebb.sim.engine import simulate
from ebb.sim.metrics import Summary, summarise
from ebb.sim.world import PolicySpec, World
from ebb.traces import Trace, window

GRID_SIZE = 12
"""Settings tried per policy: the same budget for every policy, Ebb's included."""


def _down_window(seconds: float) -> Behavior:
    """HPA behavior with the default rates and a scale-down stabilisation of `seconds`."""
    return Behavior(scale_down=ScalingRules(seconds, DEFAULT_SCALE_DOWN.policies))


def _grid(name: str, first: tuple[str, Sequence[object]],
          second: tuple[str, Sequence[tuple[str, Mapping[str, object]]]]
          ) -> tuple[PolicySpec, ...]:
    key, values = first
    return tuple(
        PolicySpec(name, {key: value, **extra}, f"{name} {key}={value} {text}")
        for value, (text, extra) in product(values, second[1]))


def grids() -> Mapping[str, tuple[PolicySpec, ...]]:
    """Each policy's settings, `GRID_SIZE` apiece: 4 targets x 3 windows or delays."""
    return MappingProxyType({
        "ebb": _grid("ebb", ("miss_fraction", (0.002, 0.01, 0.03, 0.1)),
                     ("release", [("keep-alive", {}),
                                  ("keep-alive+forecast", {"forecast": True}),
                                  ("delay=10s", {"release": "delay",
                                                 "scale_in_delay_s": 10.0})])),
        "hpa": _grid("hpa", ("target", (1.0, 2.0, 4.0, 8.0)),
                     ("down window", [(f"down={d}s", {"behavior": _down_window(float(d))})
                                      for d in (30, 120, 300)])),
        "keda": _grid("keda", ("threshold", (1.0, 2.0, 4.0, 8.0)),
                      ("hpa behavior", [("legacy-300s", {"hpa_behavior": None}),
                                        ("down=120s", {"hpa_behavior": _down_window(120.0)}),
                                        ("down=30s", {"hpa_behavior": _down_window(30.0)})])),
        "kpa": _grid("kpa", ("container_concurrency", (1, 2, 4, 8)),
                     ("stable window", [(f"stable={d}s", {"stable_window_s": float(d)})
                                        for d in (6, 20, 60)])),
        "hpa-cpu": _grid("hpa-cpu", ("target", (0.5, 0.6, 0.7, 0.8)),
                         ("down window", [(f"down={d}s", {"behavior": _down_window(float(d))})
                                          for d in (30, 120, 300)])),
        "ray": _grid("ray", ("target_ongoing_requests", (1.0, 2.0, 4.0, 8.0)),
                     ("delays", [(f"up={u}s,down={d}s", {"upscale_delay_s": float(u),
                                                         "downscale_delay_s": float(d)})
                                 for u, d in ((0, 60), (10, 300), (30, 600))])),
    })


@dataclass(frozen=True, slots=True)
class Tuned:
    """One policy's grid on the training slice and the setting it chose."""

    policy: str
    chosen: PolicySpec
    setting: str
    """The chosen grid point, in words."""
    training: tuple[tuple[PolicySpec, Summary], ...]


def training_slice(trace: Trace, train_fraction: float) -> tuple[Trace, float]:
    """The first `train_fraction` of the trace's time, and the moment the held-out rest
    begins (scored with `compare(..., score_from_s=...)` on the whole trace)."""
    if not 0 < train_fraction < 1:
        raise ValueError(f"train fraction must be in (0, 1), got {train_fraction}")
    cut = trace.duration_s * train_fraction
    return window(trace, 0.0, cut), cut


def choose(results: Sequence[tuple[PolicySpec, Summary]], target: float) -> PolicySpec:
    """The cheapest setting reaching `target`, else the most attaining (cheaper on ties)."""
    passing = [(s.worker_seconds, i) for i, (_, s) in enumerate(results)
               if s.slo_attainment >= target]
    if passing:
        return results[min(passing)[1]][0]
    best = max(range(len(results)),
               key=lambda i: (results[i][1].slo_attainment, -results[i][1].worker_seconds))
    return results[best][0]


def tune(training: Trace, world: World, name: str, *, seed: int, ideal_signals: bool,
         target_attainment: float,
         on_setting: Callable[[str], None] | None = None) -> Tuned:
    """Grid-search one policy on `training`; `on_setting` hears each setting's label."""
    results: list[tuple[PolicySpec, Summary]] = []
    for spec in grids()[name]:
        if on_setting is not None:
            on_setting(spec.title)
        run = simulate(training, world, spec, pipeline_for(spec, ideal_signals, world.cluster),
                       seed=seed)
        results.append((spec, summarise(run, world.slo_s, training.arrivals)))
    chosen = choose(results, target_attainment)
    return Tuned(name, PolicySpec(name, chosen.knobs, f"{name} tuned"), chosen.title,
                 tuple(results))
