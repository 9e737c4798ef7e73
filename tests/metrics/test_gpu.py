"""GPU metrics through NVML: skipped cleanly without a GPU, correct series with one."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ebb.metrics import names
from ebb.metrics.collectors import ModelSnapshot, ServingCollector, WorkerSample
from ebb.metrics.gpu import GpuReader, open_gpu_reader
from tests.conftest import RunningServer


def test_this_machine_gets_a_reader_only_with_a_gpu() -> None:
    """The real NVML of this machine: no library or no device gives a reason, not an error."""
    reader, reason = open_gpu_reader()
    if shutil.which("nvidia-smi") is None:
        assert reader is None
        assert reason
    else:
        assert reader is not None and reader.device_count >= 1
        assert reader.read().devices


def test_a_cpu_server_exports_no_empty_gpu_families(double_server: RunningServer) -> None:
    if open_gpu_reader()[0] is not None:
        pytest.skip("this machine has a GPU: the families are expected here")
    text = httpx.get(f"{double_server.url}/metrics", timeout=10).text
    assert "ebb_gpu_" not in text
    assert names.WORKER_GPU_MEMORY not in text


class _NotFound(Exception):
    pass


class _FakeNvml:
    """Stands in for NVML: neither this machine nor CI has an NVIDIA GPU or driver to read.

    It returns what the NVML C API documents: utilisation in percent, memory in bytes, process
    samples with a microsecond timestamp, and NVML_ERROR_NOT_FOUND when no sample is newer than
    the timestamp asked for.
    """

    NVMLError = _NotFound

    def __init__(self) -> None:
        self.asked_since: list[int] = []
        self.samples: list[Any] = [
            SimpleNamespace(pid=101, smUtil=40, memUtil=10, timeStamp=1_000),
            SimpleNamespace(pid=101, smUtil=60, memUtil=10, timeStamp=2_000),
            SimpleNamespace(pid=202, smUtil=10, memUtil=5, timeStamp=1_500),
        ]

    def nvmlInit(self) -> None:
        pass

    def nvmlDeviceGetCount(self) -> int:
        return 1

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:
        return f"gpu{index}"

    def nvmlDeviceGetName(self, handle: Any) -> bytes:
        return b"NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> Any:
        return SimpleNamespace(gpu=73, memory=20)

    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> Any:
        return SimpleNamespace(used=3 << 30, total=80 << 30, free=77 << 30)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: Any) -> Sequence[Any]:
        return [SimpleNamespace(pid=101, usedGpuMemory=1 << 30),
                SimpleNamespace(pid=303, usedGpuMemory=None)]

    def nvmlDeviceGetProcessUtilization(self, handle: Any, timeStamp: int) -> Sequence[Any]:
        self.asked_since.append(timeStamp)
        fresh = [s for s in self.samples if s.timeStamp > timeStamp]
        if not fresh:
            raise _NotFound("Not Found")
        return fresh


def test_reader_averages_process_samples_and_moves_its_timestamp() -> None:
    nvml = _FakeNvml()
    reader, reason = open_gpu_reader(nvml)
    assert reader is not None, reason
    first = reader.read()
    assert first.devices[0].utilisation == pytest.approx(0.73)
    assert first.devices[0].name == "NVIDIA H100 80GB HBM3"
    assert first.processes[101].utilisation == pytest.approx(0.5)
    assert first.processes[101].memory_bytes == 1 << 30
    assert first.processes[202].utilisation == pytest.approx(0.1)
    assert first.processes[303].memory_bytes == 0  # NVML hides it: not permitted
    second = reader.read()
    assert nvml.asked_since == [0, 2_000]
    assert second.processes[101].utilisation == 0.0  # no kernel since: NOT_FOUND
    assert 202 not in second.processes


def test_collector_maps_worker_pids_and_passes_promtool() -> None:
    reader = GpuReader(_FakeNvml())
    snapshot = ModelSnapshot("scorer", 0, 64, 0, 0, 2, 0, 0, 0, 0, 0,
                             (WorkerSample(0, 101), WorkerSample(1, 202)))
    registry = CollectorRegistry()
    registry.register(ServingCollector(lambda: [snapshot], reader))
    text = generate_latest(registry).decode()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    device = (("device", "NVIDIA H100 80GB HBM3"), ("gpu", "0"))
    assert samples[(names.GPU_UTILISATION, device)] == pytest.approx(0.73)
    assert samples[(names.GPU_MEMORY_TOTAL, device)] == 80 << 30
    worker0 = (("model", "scorer"), ("worker", "0"))
    worker1 = (("model", "scorer"), ("worker", "1"))
    assert samples[(names.WORKER_GPU_UTILISATION, worker0)] == pytest.approx(0.5)
    assert samples[(names.WORKER_GPU_MEMORY, worker0)] == 1 << 30
    assert samples[(names.WORKER_GPU_UTILISATION, worker1)] == pytest.approx(0.1)
    if shutil.which("promtool"):
        check = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                               capture_output=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
