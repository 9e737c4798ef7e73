"""When the controller holds back a write it would otherwise make: no scale-in while pods are
starting, and backing off (SPEC §4.2) when another field manager wrote ``spec.replicas``
recently, both with the in-memory fake and through the official client against the FAKE API
server (fake_apiserver.py: no real API server can run here; its ``managedFields`` are reduced
to the ``spec.replicas`` owner)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ebb.kubernetes.client import OfficialKubeApi, load_api_client, replicas_owners
from ebb.kubernetes.controller.actuator import ScaleActuator, scale_in_held, starting_pods
from ebb.kubernetes.controller.api import KubeApi, ObjectRef, ReplicasWriter
from ebb.kubernetes.controller.events import EventRecorder
from ebb.kubernetes.controller.fake import FakeKubeApi
from ebb.kubernetes.controller.guards import Guards, recent_other_writer
from ebb.kubernetes.controller.settings import Target
from ebb.kubernetes.controller.sources import PodReading, ScaleView
from tests.kubernetes.controller.fake_apiserver import FakeApiServer
from tests.kubernetes.controller.test_acting import Seen, _pod


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t


def _actuator(api: KubeApi, pods: list[PodReading], back_off_s: float = 60.0,
              clock: Clock | None = None) -> tuple[ScaleActuator, Seen]:
    seen = Seen()
    clock = clock or Clock()
    target = Target.parse("deployment/m")
    events = EventRecorder(api, "ns", ObjectRef("apps/v1", "Deployment", "m", "ns"), "me",
                           clock)
    guards = Guards(api, "ns", target, events, seen, back_off_s=back_off_s)
    actuator = ScaleActuator(api, "ns", "m", 1, 10, ScaleView(api, "ns", "m"), guards, events,
                             seen, lambda: True, lambda: 1, lambda: pods,
                             start_timeout_s=300, now=clock.now)
    return actuator, seen


def test_starting_pods_hold_a_scale_in_until_the_timeout() -> None:
    ready = [_pod("a", 0), _pod("b", 0)]
    assert starting_pods(4, ready) == 2
    assert starting_pods(4, [*ready, _pod("c", 0, ready=False)]) == 2
    assert scale_in_held(4, 2, 2, 10, 300) is not None
    assert scale_in_held(4, 2, 0, 10, 300) is None      # all ready: go ahead
    assert scale_in_held(4, 5, 2, 10, 300) is None      # a scale-up is never held
    assert scale_in_held(4, 2, 2, 301, 300) is None     # stuck pods do not pin the count


async def test_no_scale_in_while_pods_start_then_it_goes_ahead() -> None:
    pods = [_pod("a", 0)]
    api = FakeKubeApi(replicas={"m": 1})
    clock = Clock()
    actuator, _ = _actuator(api, pods, clock=clock)
    await actuator.apply(4)                       # 3 pods ordered; they start
    assert api.writes == [("m", 4)]
    clock.t += 5
    await actuator.apply(1)                       # demand gone while they start: wait
    assert api.writes == [("m", 4)] and actuator.held is not None
    pods += [_pod("b", 0), _pod("c", 0), _pod("d", 0)]
    await actuator.apply(1)                       # all ready: now it scales in
    assert api.writes == [("m", 4), ("m", 1)]


async def test_pods_stuck_starting_stop_holding_after_the_timeout() -> None:
    api = FakeKubeApi(replicas={"m": 1})
    clock = Clock()
    actuator, _ = _actuator(api, [_pod("a", 0)], clock=clock)
    await actuator.apply(3)
    clock.t += 301
    await actuator.apply(1)
    assert api.writes == [("m", 3), ("m", 1)]


def test_only_a_recent_write_by_another_manager_counts() -> None:
    ours = ReplicasWriter("ebb-controller", "Update", 990.0, "scale")
    kubectl = ReplicasWriter("kubectl", "Update", 980.0, "scale")
    argo = ReplicasWriter("argocd-controller", "Apply", 900.0)
    assert recent_other_writer([ours, kubectl, argo], 1000.0, 60) == kubectl
    assert recent_other_writer([ours], 1000.0, 60) is None
    assert recent_other_writer([argo], 1000.0, 60) is None
    raw = {"metadata": {"managedFields": [
        {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
         "time": "2026-01-01T00:00:00Z", "fieldsV1": {"f:status": {"f:replicas": {}}}},
        {"manager": "helm", "operation": "Update", "time": "2026-01-01T00:00:10Z",
         "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {}}}}]}}
    assert [(w.manager, w.subresource) for w in replicas_owners(raw)] == [("helm", "")]


async def test_kubectl_scale_makes_it_back_off_then_resume() -> None:
    api = FakeKubeApi(replicas={"m": 2})
    actuator, seen = _actuator(api, [_pod("a", 0), _pod("b", 0)], back_off_s=60)
    api.touch("m", 2, manager="kubectl")
    await actuator.apply(3)
    await actuator.apply(3)
    assert api.writes == [] and seen.conflicts[-1] is True
    warnings = [e for e in api.events if e.type == "Warning"]
    assert len(warnings) == 1 and warnings[0].reason == "BackOff"
    assert "'kubectl'" in warnings[0].note and "/scale" in warnings[0].note
    api.touch("m", 2, manager="kubectl", at=time.time() - 61)
    await actuator.apply(3)
    assert api.writes == [("m", 3)] and seen.conflicts[-1] is False


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    server = FakeApiServer()
    yield server
    server.close()


async def test_back_off_through_the_official_client(fake: FakeApiServer,
                                                    tmp_path: Path) -> None:
    api = OfficialKubeApi(load_api_client(str(fake.kubeconfig(tmp_path / "kubeconfig"))))
    fake.add_deployment("ns", "m", 2)
    actuator, seen = _actuator(api, [_pod("a", 0), _pod("b", 0)], back_off_s=2)
    await actuator.apply(3)                                   # created long ago: acts
    assert [(w.replicas, w.field_manager) for w in fake.state.writes] == [(3, "ebb-controller")]
    writers = await api.replicas_writers("ns", "m")
    assert [w.manager for w in writers] == ["ebb-controller"]
    fake.set_replicas("ns", "m", 2, manager="kubectl")        # an operator overrides
    await actuator.apply(4)
    assert len(fake.state.writes) == 1 and seen.conflicts[-1] is True
    assert [e["reason"] for e in fake.state.events if e["type"] == "Warning"] == ["BackOff"]
    await asyncio.sleep(2.2)                                  # the window passes (1 s stamps)
    await actuator.apply(4)
    assert [w.replicas for w in fake.state.writes] == [3, 4] and seen.conflicts[-1] is False
