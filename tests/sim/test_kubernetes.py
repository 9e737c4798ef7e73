"""The kubernetes world: pods of W workers, one cold start per pod, each system's signal path
on a cluster (hand-computed on tiny traces), the CPU-utilisation HPA's saturation, and the
local world left exactly as it was."""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ebb.autoscale.types import Policy, ScalingDecision, ScalingInput
from ebb.sim.cluster import build_sim_policy, cpu_knobs, utilisation
from ebb.sim.command import add_arguments, run
from ebb.sim.compare import compare
from ebb.sim.engine import simulate, simulate_policy
from ebb.sim.pods import PodFleet
from ebb.sim.report import Report, summary_json, table
from ebb.sim.world import (
    Cluster,
    ColdStart,
    Pipeline,
    PolicySpec,
    ServiceModel,
    World,
    warm_start,
)
from ebb.traces import Trace, constant, synthetic
from tests.sim.test_engine import Scripted


def _trace(times: list[float], duration: float) -> Trace:
    return Trace(np.asarray(times, dtype=np.float64), None, "hand", None, duration)


def _world(per_pod: int = 1, **changes: object) -> World:
    base: dict[str, object] = {
        "service": ServiceModel(0.1, 0.0), "cold_start": ColdStart(0.0), "slo_s": 0.2,
        "min_workers": 0, "max_workers": 8, "max_batch_size": 1, "max_delay_s": 0.0,
        "initial_workers": 0, "cluster": Cluster(per_pod)}
    base.update(changes)
    return World(**base)  # type: ignore[arg-type]


def test_pod_fleet_rounds_up_to_whole_pods_and_drains_whole_pods() -> None:
    fleet = PodFleet(ColdStart(0.0), np.random.default_rng(0), workers_per_pod=2)
    fleet.scale_to(5, 0.0)
    assert (fleet.active, fleet.active_pods) == (6, 3)
    fleet.scale_to(3, 1.0)  # 3 workers: 2 pods; the newest idle pod goes
    assert (fleet.active, fleet.active_pods) == (4, 2)
    assert fleet.pod_stopped == [np.inf, np.inf, 1.0]
    assert fleet.stopped[4:] == [1.0, 1.0]


@pytest.mark.parametrize(("wanted", "worker_seconds"), [
    (2, 2 * 3.0 + 2 * 0.5),  # the idle pod goes, the busy one stays
    (0, 2 * 0.5 + 2 * 1.0),  # both go: the busy pod ends when its batch is answered at 1.0
])
def test_scale_in_drains_idle_pods_first_and_pays_a_draining_pod_to_its_end(
        wanted: int, worker_seconds: float) -> None:
    # two pods of two 1 s workers; one request at 0.0 keeps pod 0's first worker busy to 1.0
    world = _world(2, service=ServiceModel(1.0, 0.0), initial_workers=4)
    run = simulate_policy(_trace([0.0], 3.0), world, Scripted(((0.5, wanted),)), "s",
                          Pipeline("every 0.5 s", 0.5, 0.5), seed=0)
    assert run.latency_s.tolist() == pytest.approx([1.0])
    assert run.worker_seconds == pytest.approx(worker_seconds)
    assert run.pod_seconds == pytest.approx(worker_seconds / 2)


def test_policy_sees_workers_and_its_answer_becomes_pods_rounded_up() -> None:
    world = _world(3, max_workers=9)
    policy = Scripted(((0.0, 4),))
    run = simulate_policy(_trace([], 3.0), world, policy, "s", Cluster(3).pipeline("ebb"),
                          seed=0)
    assert [(e.at, e.before, e.after) for e in run.scale_events] == [(0.0, 0, 6)]
    later = next(s for s in policy.seen if s.now == 1.0)
    assert later.current_workers == 6  # 2 pods of 3
    assert run.pod_seconds == pytest.approx(2 * 3.0)


def test_one_cold_start_per_pod_shared_by_its_workers() -> None:
    world = _world(2, cold_start=ColdStart(20.0, cv=0.5))
    fleet = PodFleet(world.cold_start, np.random.default_rng(1), workers_per_pod=2)
    fleet.scale_to(4, 0.0)
    ready_at = sorted(t for t, _, _, _ in fleet.heap)
    assert len(ready_at) == 4
    assert ready_at[0] == ready_at[1] and ready_at[2] == ready_at[3]
    assert ready_at[0] != ready_at[2]  # two pods, two draws


def test_pod_cold_start_delays_the_first_answer() -> None:
    world = _world(2, cold_start=ColdStart(20.0))
    run = simulate_policy(_trace([0.5], 30.0), world, Scripted(((0.0, 1),)), "s",
                          Cluster(2).pipeline("ebb"), seed=0)
    assert run.latency_s.tolist() == pytest.approx([20.0 - 0.5 + 0.1])
    assert run.pod_seconds == pytest.approx(30.0)


@pytest.mark.parametrize(("policy", "scraped_at", "seen_at"), [
    ("ebb", 0.4, 0.5),     # the controller scrapes every 0.5 s, then decides 0.1 s later
    ("kpa", 0.5, 1.0),     # Knative's 1 s scrape, half a second out of step
    ("hpa", 12.5, 15.0),   # Prometheus every 5 s from 2.5 s; the HPA syncs every 15 s
    ("keda", 12.5, 15.0),  # the same Prometheus, the HPA KEDA drives
])
def test_each_pipeline_delivers_the_queue_when_the_rules_say(
        policy: str, scraped_at: float, seen_at: float) -> None:
    world = _world(1, initial_workers=0, max_workers=4)
    pipeline = Cluster(1).pipeline(policy)
    script = Scripted(((0.0, 0),))
    # no workers: arrivals queue up, so the queue depth a decision sees says when it was read
    arrivals = [0.05 + 0.1 * i for i in range(300)]
    simulate_policy(_trace(arrivals, 30.0), world, script, "s", pipeline, seed=0)
    seen = {s.now: s for s in script.seen}
    expected = sum(1 for t in arrivals if t <= scraped_at)
    assert seen[seen_at].queue_depth == expected
    earlier = [s for s in script.seen if s.now < seen_at]
    assert all(s.queue_depth < expected or not s.metric_available for s in earlier)


def test_metrics_server_cpu_is_busy_cores_over_its_resolution() -> None:
    # one ready worker, a request every 0.2 s taking 0.1 s: busy half the time = 500m
    world = _world(1, initial_workers=1, min_workers=1)
    script = Scripted(((0.0, 1),))
    pipeline = Cluster(1).pipeline("hpa-cpu")
    assert (pipeline.signal, pipeline.scrape_interval_s, pipeline.scrape_phase_s) == \
        ("cpu", 15.0, 7.5)
    arrivals = [0.2 * i + 0.05 for i in range(300)]  # answered at 0.15, 0.35, ...
    simulate_policy(_trace(arrivals, 60.0), world, script, "s", pipeline, seed=0)
    seen = {s.now: s for s in script.seen}
    assert not seen[15.0].metric_available  # one scrape (7.5 s) cannot make a rate
    # 75 batches of 0.1 s answered over 7.5..22.5 s: 0.5 cores, in milli-cores
    assert seen[30.0].queue_depth == 500
    assert seen[30.0].inflight == 0
    assert utilisation(seen[30.0].queue_depth, seen[30.0].ready_workers) == pytest.approx(0.5)


@dataclass
class Recording:
    """The production policy, keeping the CPU readings it was given while the load lasts."""

    inner: Policy[Any]
    readings: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    def initial_state(self) -> Any:
        return self.inner.initial_state()

    def decide(self, signal: ScalingInput, state: Any) -> tuple[ScalingDecision, Any]:
        if signal.metric_available and signal.now <= 60.0:
            self.readings.append(signal.queue_depth)
        return self.inner.decide(signal, state)


def _cpu_readings(rate: float) -> tuple[list[int], list[int]]:
    """hpa-cpu on 2 pods of one 0.1 s worker each (capacity 20/s) at `rate`: the CPU
    readings and the counts it asked for while the load lasts."""
    world = _world(1, initial_workers=2, min_workers=1, max_workers=64, queue_bound=100_000,
                   cold_start=ColdStart(60.0))
    policy = Recording(build_sim_policy(PolicySpec("hpa-cpu"), world))
    run = simulate_policy(constant(rate, 61.0, seed=0, spacing="uniform"), world, policy,
                          "hpa-cpu", Cluster(1).pipeline("hpa-cpu"), seed=0)
    return policy.readings, [e.after for e in run.scale_events if e.at <= 60.0]


def test_cpu_saturates_at_100_percent_so_2x_and_10x_overload_look_the_same() -> None:
    twice, twice_counts = _cpu_readings(40.0)
    tenfold, tenfold_counts = _cpu_readings(200.0)
    assert twice and twice == tenfold
    assert all(utilisation(milli, 2) == pytest.approx(1.0, abs=0.01) for milli in twice)
    # 100 % against an 80 % target: x1.25 per sync, whatever the queue: 2 -> 3 (new pods
    # take 60 s here, so the starting one holds the count until it is ready)
    assert twice_counts == tenfold_counts == [3]


def test_hpa_cpu_target_is_a_utilisation() -> None:
    assert cpu_knobs({})["target"] == pytest.approx(800.0)
    assert cpu_knobs({"target": 0.5})["target"] == pytest.approx(500.0)
    with pytest.raises(ValueError, match="utilisation"):
        cpu_knobs({"target": 80.0})


def test_bounds_and_start_must_be_whole_pods() -> None:
    with pytest.raises(ValueError, match="whole pods"):
        _world(2, max_workers=5)
    world = warm_start(_world(4, initial_workers=None, max_workers=16),
                       constant(100, 60, seed=0).arrivals, 60.0)
    assert world.initial_workers is not None and world.initial_workers % 4 == 0


def test_runs_are_deterministic_for_a_seed() -> None:
    world = _world(2, service=ServiceModel(0.02, 0.0, cv=0.3), cold_start=ColdStart(20, 0.3),
                   max_workers=16, min_workers=2, initial_workers=2)
    trace = synthetic("step", 50, 60, seed=1)
    for name in ("ebb", "hpa", "keda", "kpa", "hpa-cpu"):
        spec = PolicySpec(name)
        pipeline = Cluster(2).pipeline(name)
        first = simulate(trace, world, spec, pipeline, seed=4)
        again = simulate(trace, world, spec, pipeline, seed=4)
        assert np.array_equal(first.latency_s, again.latency_s, equal_nan=True)
        assert first.pod_seconds == again.pod_seconds
        assert first.worker_seconds == pytest.approx(2 * (first.pod_seconds or 0))


def test_the_comparison_reports_pod_seconds() -> None:
    world = _world(2, service=ServiceModel(0.02, 0.0), cold_start=ColdStart(20.0),
                   max_workers=16, min_workers=2, initial_workers=None)
    trace = synthetic("step", 50, 90, seed=1)
    specs = (PolicySpec("ebb"), PolicySpec("hpa-cpu"))
    result = compare(trace, world, specs, seed=0)
    doc = summary_json(Report(result, specs))
    assert doc["oracle"]["pod_seconds"] == pytest.approx(doc["oracle"]["worker_seconds"] / 2,
                                                         abs=1e-3)
    for entry in doc["policies"].values():
        assert entry["pod_seconds"] == pytest.approx(entry["worker_seconds"] / 2, abs=1e-3)
    assert "pod-s" in table(result)


LOCAL_FINGERPRINT = "b2562b46039a4eff8d001834f8e87238a904e4d80b7b8e7e3457ad7bc0eb5868"
"""sha256 of the run below's --json summary, first taken before the kubernetes world existed;
retaken for issue 13 (Ebb's new rules, the clairvoyant bound's fields) after checking that
every baseline's entry and the ideal oracle's were byte-identical to the earlier run's."""


def test_the_local_world_is_unchanged() -> None:
    trace = synthetic("spike", 100, 120, seed=3)
    world = World(ServiceModel(0.02, 0.0, cv=0.3), ColdStart(5.0, 0.3), slo_s=0.2,
                  max_batch_size=1)
    specs = tuple(PolicySpec(n) for n in ("ebb", "hpa", "keda", "kpa", "ray"))
    doc = summary_json(Report(compare(trace, world, specs, seed=7), specs))
    assert all("pod_seconds" not in entry for entry in doc["policies"].values())
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
    assert digest == LOCAL_FINGERPRINT


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ebb sim")
    add_arguments(parser)
    return run(parser.parse_args(argv))


def test_cli_kubernetes_world(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    status = _cli(["--synthetic", "step", "--rate", "30", "--duration", "20", "--world",
                   "kubernetes", "--workers-per-pod", "2", "--max-workers", "9",
                   "--pod-cold-start-s", "10", "--policy-option", "hpa-cpu.target=0.6", "--json",
                   "--out", str(out), "--quiet"])
    assert status == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["policies"]) == {"ebb", "hpa", "keda", "kpa", "hpa-cpu"}
    assert doc["policies"]["hpa-cpu"]["pipeline"].startswith("metrics-server 15 s")
    assert all(e["pod_seconds"] * 2 == pytest.approx(e["worker_seconds"], abs=1e-2)
               for e in doc["policies"].values())
    page = (out / "report.html").read_text()
    assert "pod-s" in page and "kubernetes: pods of 2 workers" in page


def test_cli_hpa_cpu_needs_the_kubernetes_world(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(["--synthetic", "step", "--policy", "hpa-cpu", "--quiet"]) == 2
    assert "--world kubernetes" in capsys.readouterr().err
