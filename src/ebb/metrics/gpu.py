"""GPU utilisation and memory through NVML, read at scrape time when a GPU is present.

Optional: it needs ``nvidia-ml-py`` (``pip install 'ebb[gpu]'``) and an NVIDIA driver. Without
either, :func:`open_gpu_reader` returns no reader and says why once; a CPU machine's ``/metrics``
then carries no GPU families at all rather than empty ones.

Per-process figures are what NVML attributes to each worker's pid: the memory it holds on each
device and its share of the streaming multiprocessors' time (``smUtil``) over the samples since
the previous scrape. Inside a container without the host's pid namespace NVML may report host
pids; those match no worker and only the device-wide figures remain.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Nvml(Protocol):
    """The part of ``pynvml`` Ebb calls: the seam that lets a test without a GPU stand in."""

    NVMLError: type[Exception]

    def nvmlInit(self) -> None: ...
    def nvmlDeviceGetCount(self) -> int: ...
    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any: ...
    def nvmlDeviceGetName(self, handle: Any) -> str | bytes: ...
    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> Any: ...
    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> Any: ...
    def nvmlDeviceGetComputeRunningProcesses(self, handle: Any) -> Sequence[Any]: ...
    def nvmlDeviceGetProcessUtilization(self, handle: Any, timeStamp: int) -> Sequence[Any]: ...


@dataclass(frozen=True, slots=True)
class DeviceSample:
    index: int
    name: str
    utilisation: float
    """Share of the last sample period in which a kernel ran, 0 to 1."""
    memory_used_bytes: int
    memory_total_bytes: int


@dataclass(slots=True)
class ProcessSample:
    memory_bytes: int = 0
    utilisation: float = 0.0
    """Share of the streaming multiprocessors' time, summed over devices (1.0 = one whole GPU)."""


@dataclass(frozen=True, slots=True)
class GpuSample:
    devices: tuple[DeviceSample, ...]
    processes: dict[int, ProcessSample] = field(default_factory=dict)


class GpuReader:
    """Reads every device once per call; remembers where each device's process samples ended."""

    def __init__(self, nvml: Nvml) -> None:
        self._nvml = nvml
        count = nvml.nvmlDeviceGetCount()
        self._handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        self._names = [_text(nvml.nvmlDeviceGetName(h)) for h in self._handles]
        self._last_seen = [0] * count

    @property
    def device_count(self) -> int:
        return len(self._handles)

    def read(self) -> GpuSample:
        devices = []
        processes: dict[int, ProcessSample] = {}
        for index, handle in enumerate(self._handles):
            try:
                rates = self._nvml.nvmlDeviceGetUtilizationRates(handle)
                memory = self._nvml.nvmlDeviceGetMemoryInfo(handle)
            except self._nvml.NVMLError as error:
                log.debug("GPU %d unreadable: %s", index, error)
                continue
            devices.append(DeviceSample(index, self._names[index], rates.gpu / 100.0,
                                        int(memory.used), int(memory.total)))
            self._read_processes(index, handle, processes)
        return GpuSample(tuple(devices), processes)

    def _read_processes(self, index: int, handle: Any,
                        processes: dict[int, ProcessSample]) -> None:
        try:
            running = self._nvml.nvmlDeviceGetComputeRunningProcesses(handle)
        except self._nvml.NVMLError:
            running = ()
        for process in running:
            sample = processes.setdefault(int(process.pid), ProcessSample())
            sample.memory_bytes += int(process.usedGpuMemory or 0)  # None: not permitted to see
        try:
            samples = self._nvml.nvmlDeviceGetProcessUtilization(handle, self._last_seen[index])
        except self._nvml.NVMLError:
            return  # NVML_ERROR_NOT_FOUND: no kernel ran since the previous read
        by_pid: dict[int, list[float]] = {}
        for sample in samples:
            by_pid.setdefault(int(sample.pid), []).append(sample.smUtil / 100.0)
            self._last_seen[index] = max(self._last_seen[index], int(sample.timeStamp))
        for pid, shares in by_pid.items():
            processes.setdefault(pid, ProcessSample()).utilisation += sum(shares) / len(shares)


def open_gpu_reader(nvml: Nvml | None = None) -> tuple[GpuReader | None, str]:
    """A reader for this machine's GPUs, or None and the reason there is none."""
    if nvml is None:
        try:
            import pynvml
        except ImportError:
            return None, "nvidia-ml-py is not installed (pip install 'ebb[gpu]')"
        nvml = pynvml
    try:
        nvml.nvmlInit()
        reader = GpuReader(nvml)
    except nvml.NVMLError as error:
        return None, f"NVML: {error}"
    if reader.device_count == 0:
        return None, "NVML found no GPU"
    return reader, f"{reader.device_count} GPU(s) through NVML"


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
