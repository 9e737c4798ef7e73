"""``OfficialKubeApi`` (the official ``kubernetes`` client) against the FAKE API server in
fake_apiserver.py: no real API server can run here, so these tests check the HTTP shapes the
controller sends and reads, with injected conflicts, errors and slow answers."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ebb.kubernetes.client import OfficialKubeApi, load_api_client
from ebb.kubernetes.controller.api import ApiError, ConflictError, EventSpec, Lease, ObjectRef
from tests.kubernetes.controller.fake_apiserver import FakeApiServer, Fault


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    server = FakeApiServer()
    yield server
    server.close()


@pytest.fixture
def api(fake: FakeApiServer, tmp_path: Path) -> OfficialKubeApi:
    return OfficialKubeApi(load_api_client(str(fake.kubeconfig(tmp_path / "kubeconfig"))))


def _endpoint(address: str, ready: bool, terminating: bool = False) -> dict[str, object]:
    return {"addresses": [address], "conditions": {"ready": ready, "serving": True,
                                                   "terminating": terminating},
            "targetRef": {"kind": "Pod", "name": f"pod-{address}", "uid": f"uid-{address}"}}


async def test_scale_put_carries_the_version_and_field_manager(fake: FakeApiServer,
                                                               api: OfficialKubeApi) -> None:
    fake.add_deployment("ns", "m", 2)
    scale = await api.get_scale("ns", "m")
    assert (scale.replicas, scale.selector) == (2, "app=m")
    written = await api.replace_scale("ns", "m", 4, scale.resource_version)
    assert written.replicas == 4 and written.resource_version != scale.resource_version
    assert [(w.replicas, w.field_manager) for w in fake.state.writes] == [(4, "ebb-controller")]
    with pytest.raises(ConflictError):
        await api.replace_scale("ns", "m", 5, scale.resource_version)
    with pytest.raises(ApiError) as missing:
        await api.get_scale("ns", "nope")
    assert missing.value.status == 404


async def test_injected_500_and_slow_answers(fake: FakeApiServer, api: OfficialKubeApi) -> None:
    fake.add_deployment("ns", "m", 1)
    fake.inject(Fault("GET", "/scale$", status=500))
    with pytest.raises(ApiError) as error:
        await api.get_scale("ns", "m")
    assert error.value.status == 500
    fake.inject(Fault("GET", "/scale$", delay_s=0.5))
    started = time.monotonic()
    assert (await api.get_scale("ns", "m")).replicas == 1
    assert time.monotonic() - started >= 0.5


async def test_endpoint_slices_list_and_watch(fake: FakeApiServer, api: OfficialKubeApi) -> None:
    fake.set_slice("ns", "svc-a", "svc", [_endpoint("127.0.0.2", True)], 8080)
    fake.set_slice("ns", "other-a", "other", [_endpoint("127.0.0.9", True)], 8080)
    listed = await api.list_endpoint_slices("ns", "svc")
    assert list(listed.slices) == ["svc-a"]
    (endpoint,) = listed.slices["svc-a"]
    assert (endpoint.address, endpoint.port, endpoint.pod) == ("127.0.0.2", 8080, "pod-127.0.0.2")
    events = []
    arrived: list[float] = []

    def consume() -> None:
        for event in api.watch_endpoint_slices("ns", "svc", listed.resource_version, 3):
            events.append(event)
            arrived.append(time.monotonic())

    thread = threading.Thread(target=consume)
    thread.start()
    await asyncio.sleep(0.2)
    changed = time.monotonic()
    fake.set_slice("ns", "svc-a", "svc", [_endpoint("127.0.0.2", False, terminating=True),
                                          _endpoint("127.0.0.3", True)], 8080)
    await asyncio.to_thread(thread.join, 6)
    assert arrived[0] - changed < 1.5, "a watch event must arrive at once, not when it ends"
    modified = [e for e in events if e.kind == "MODIFIED"]
    assert len(modified) == 1
    assert [(e.address, e.ready, e.terminating) for e in modified[0].endpoints] == [
        ("127.0.0.2", False, True), ("127.0.0.3", True, False)]
    assert events[-1].kind == "BOOKMARK"
    fake.compact()
    with pytest.raises(ApiError) as gone:
        list(api.watch_endpoint_slices("ns", "svc", listed.resource_version, 1))
    assert gone.value.status == 410


async def test_leases_events_hpas_isvc_and_pods(fake: FakeApiServer,
                                                api: OfficialKubeApi) -> None:
    assert await api.get_lease("ns", "ebb-controller") is None
    created = await api.create_lease("ns", "ebb-controller",
                                     Lease("a", 15, 1_700_000_000.5, 1_700_000_000.5, 0))
    assert created.holder == "a" and created.renew_time == pytest.approx(1_700_000_000.5)
    with pytest.raises(ConflictError):
        await api.create_lease("ns", "ebb-controller", Lease("b", 15, 1.0, 1.0, 0))
    renewed = await api.replace_lease("ns", "ebb-controller", created)
    with pytest.raises(ConflictError):
        await api.replace_lease("ns", "ebb-controller", created)  # stale version
    assert renewed.resource_version != created.resource_version
    await api.create_event("ns", EventSpec(ObjectRef("apps/v1", "Deployment", "m", "ns"),
                                           "Warning", "AdviseOnly", "an HPA owns m", "Scale",
                                           "a", 1_700_000_000.0))
    (event,) = fake.state.events
    assert event["regarding"]["name"] == "m" and event["type"] == "Warning"
    assert event["reportingController"] and event["eventTime"]
    fake.add_hpa("ns", "keda-hpa-m", "m")
    (hpa,) = await api.list_hpa_targets("ns")
    assert (hpa.hpa, hpa.kind, hpa.name) == ("keda-hpa-m", "Deployment", "m")
    fake.add_inference_service("ns", "llm", {"serving.kserve.io/autoscalerClass": "external"})
    assert (await api.get_inference_service_annotations("ns", "llm") or {})[
        "serving.kserve.io/autoscalerClass"] == "external"
    assert await api.get_inference_service_annotations("ns", "none") is None
    await api.annotate_pod("ns", "p1", {"controller.kubernetes.io/pod-deletion-cost": "-5"})
    await api.annotate_pod("ns", "p1", {"controller.kubernetes.io/pod-deletion-cost": None})
    assert fake.state.pod_annotations[("ns", "p1")] == {}


def test_a_missing_kubeconfig_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ApiError, match="kubeconfig"):
        load_api_client(str(tmp_path / "absent"))
