"""The controller's acting rules against the in-memory ``FakeKubeApi`` (SPEC §4.1-4.3): 409
retry, advise-only beside an HPA, the InferenceService class check, leader election and
failover, deletion-cost ordering. The HTTP round trips are in test_official_client.py."""

from __future__ import annotations

from ebb.autoscale.sources.counters import GatewayCounters
from ebb.core.clock import FakeClock
from ebb.kubernetes.controller.actuator import ScaleActuator, pods_for
from ebb.kubernetes.controller.api import ConflictError, Endpoint, HpaTarget, ObjectRef
from ebb.kubernetes.controller.deletion_cost import ANNOTATION, PodWork, deletion_costs
from ebb.kubernetes.controller.events import EventRecorder
from ebb.kubernetes.controller.fake import FakeKubeApi
from ebb.kubernetes.controller.guards import CLASS_ANNOTATION, Guards
from ebb.kubernetes.controller.leader import LeaderElector, LeaseTiming
from ebb.kubernetes.controller.settings import Target
from ebb.kubernetes.controller.sources import PodReading, ScaleView


class Seen:
    def __init__(self) -> None:
        self.conflicts: list[bool] = []
        self.leader: list[bool] = []
        self.writes: list[int] = []
        self.write_conflicts = 0

    def conflict(self, present: bool) -> None:
        self.conflicts.append(present)

    def leadership(self, leader: bool) -> None:
        self.leader.append(leader)

    def wrote(self, replicas: int) -> None:
        self.writes.append(replicas)

    def write_conflict(self) -> None:
        self.write_conflicts += 1


def _pod(name: str, work: int, ready: bool = True) -> PodReading:
    endpoint = Endpoint(f"10.0.0.{len(name)}{work}", 8080, ready, True, False, f"uid-{name}",
                        name)
    return PodReading(endpoint, GatewayCounters(work, 0, 0, 1, 0, 0, 0, 0.0))


def _actuator(api: FakeKubeApi, target: str = "deployment/m", leader: bool = True,
              pods: list[PodReading] | None = None) -> tuple[ScaleActuator, Seen]:
    seen = Seen()
    parsed = Target.parse(target)
    clock = FakeClock()
    events = EventRecorder(api, "ns", ObjectRef("apps/v1", "Deployment", parsed.deployment,
                                                "ns"), "me", clock)
    actuator = ScaleActuator(
        api, "ns", parsed.deployment, 1, 10, ScaleView(api, "ns", parsed.deployment),
        Guards(api, "ns", parsed, events, seen), events, seen, lambda: leader, lambda: 1,
        lambda: pods or [], reason=lambda: "queue 40 > 4/worker")
    return actuator, seen


def test_workers_become_pods_rounded_up_within_bounds() -> None:
    assert pods_for(7, 2, 1, 10) == 4
    assert pods_for(0, 2, 1, 10) == 1
    assert pods_for(99, 1, 1, 10) == 10


async def test_a_conflict_is_re_read_and_retried() -> None:
    api = FakeKubeApi(replicas={"m": 2})
    api.faults["replace_scale"] = [ConflictError("modified"), ConflictError("modified")]
    actuator, seen = _actuator(api)
    await actuator.apply(5)
    assert api.writes == [("m", 5)]
    assert seen.write_conflicts == 2
    assert api.events[-1].reason == "Scaled" and "2 -> 5 pods" in api.events[-1].note


async def test_a_stale_version_from_another_writer_is_a_409() -> None:
    api = FakeKubeApi(replicas={"m": 2})
    scale = await api.get_scale("ns", "m")
    api.touch("m", 3)
    try:
        await api.replace_scale("ns", "m", 4, scale.resource_version)
    except ConflictError:
        pass
    else:
        raise AssertionError("a stale resourceVersion must be refused")


async def test_beside_an_hpa_it_advises_and_writes_nothing() -> None:
    api = FakeKubeApi(replicas={"m": 2}, hpas=[HpaTarget("keda-hpa-m", "Deployment", "m")])
    actuator, seen = _actuator(api)
    await actuator.apply(6)
    await actuator.apply(7)
    assert api.writes == []
    assert seen.conflicts[-1] is True
    warnings = [e for e in api.events if e.type == "Warning"]
    assert len(warnings) == 1 and "keda-hpa-m" in warnings[0].note
    api.hpas.clear()
    await actuator.apply(7)
    assert api.writes == [("m", 7)] and seen.conflicts[-1] is False


async def test_an_inference_service_needs_the_external_class() -> None:
    api = FakeKubeApi(replicas={"llm-predictor": 1},
                      isvc_annotations={"llm": {CLASS_ANNOTATION: "hpa"}})
    actuator, _ = _actuator(api, "inferenceservice/llm")
    await actuator.apply(3)
    assert api.writes == []
    assert api.events[-1].type == "Warning" and "external" in api.events[-1].note
    api.isvc_annotations["llm"][CLASS_ANNOTATION] = "external"
    await actuator.apply(3)
    assert api.writes == [("llm-predictor", 3)]


async def test_a_follower_and_a_dry_run_write_nothing() -> None:
    api = FakeKubeApi(replicas={"m": 2})
    follower, _ = _actuator(api, leader=False)
    await follower.apply(5)
    dry, _ = _actuator(api)
    dry.dry_run = True
    await dry.apply(5)
    assert api.writes == []


def test_deletion_costs_mark_the_least_busy_and_clear_stale_marks() -> None:
    pods = [PodWork("a", 5), PodWork("b", 0), PodWork("c", 2), PodWork("d", 9)]
    first = deletion_costs(pods, 2, {})
    assert set(first) == {"b", "c"}
    assert int(first["b"]) < int(first["c"]) < 0
    later = deletion_costs([PodWork("a", 0), PodWork("b", 7), PodWork("c", 8)], 1, first)
    assert later["a"] is not None and later["b"] is None and later["c"] is None


async def test_scaling_in_sets_costs_before_the_write() -> None:
    pods = [_pod("p1", 6), _pod("p2", 0), _pod("p3", 3)]
    api = FakeKubeApi(replicas={"m": 3})
    actuator, _ = _actuator(api, pods=pods)
    await actuator.apply(1)
    costs = {pod: int(a[ANNOTATION]) for pod, a in api.pod_annotations.items()}
    assert set(costs) == {"p2", "p3"} and costs["p2"] < costs["p3"]
    assert api.writes == [("m", 1)]


async def test_one_leader_and_failover_within_the_lease_duration() -> None:
    api = FakeKubeApi()
    clock = FakeClock(100.0)
    timing = LeaseTiming(duration_s=15, renew_deadline_s=10, retry_period_s=2)
    seen_a, seen_b = Seen(), Seen()
    a = LeaderElector(api, "ns", "ebb-controller", "a", clock, timing, seen_a,
                      wall=lambda: 1e9 + clock.now())
    b = LeaderElector(api, "ns", "ebb-controller", "b", clock, timing, seen_b,
                      wall=lambda: 1e9 + clock.now())
    assert await a.try_acquire_or_renew() and not await b.try_acquire_or_renew()
    assert a.is_leader() and not b.is_leader()
    taken_at = None
    for _ in range(20):  # a dies (stops renewing); b retries every retry period
        clock.advance(timing.retry_period_s)
        if await b.try_acquire_or_renew():
            taken_at = clock.now()
            break
    assert taken_at is not None and taken_at - 100.0 <= timing.duration_s + timing.retry_period_s
    assert not a.is_leader()  # its renew deadline has long passed
    assert api.leases["ebb-controller"].holder == "b"
    assert api.leases["ebb-controller"].transitions == 1


async def test_a_failed_renewal_stops_writes_at_once_and_release_hands_over() -> None:
    api = FakeKubeApi()
    clock = FakeClock()
    timing = LeaseTiming(3, 2, 0.5)
    a = LeaderElector(api, "ns", "l", "a", clock, timing, Seen())
    b = LeaderElector(api, "ns", "l", "b", clock, timing, Seen())
    assert await a.try_acquire_or_renew()
    api.faults["get_lease"] = [ConflictError("boom")]
    assert not await a.try_acquire_or_renew() and not a.is_leader()
    assert await a.try_acquire_or_renew() and a.is_leader()
    await a.release()
    assert not a.is_leader()
    await b.try_acquire_or_renew()
    assert b.is_leader()
