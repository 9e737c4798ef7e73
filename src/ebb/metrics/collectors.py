"""Scrape-time collectors: read live serving state when Prometheus asks, not on every request."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ebb.core.snapshot import ModelSnapshot, WorkerSample
from ebb.metrics import names
from ebb.metrics.gpu import GpuReader, GpuSample

__all__ = ["ModelSnapshot", "ServingCollector", "WorkerSample"]


class ServingCollector(Collector):
    def __init__(self, snapshot: Callable[[], Iterable[ModelSnapshot]],
                 gpu: GpuReader | None = None) -> None:
        self._snapshot = snapshot
        self._gpu = gpu
        self._processes: dict[int, psutil.Process] = {}

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily(names.QUEUE_DEPTH, "Requests waiting in the queue.",
                                  labels=["model"])
        capacity = GaugeMetricFamily(names.QUEUE_CAPACITY, "Queue bound (max_queue_size).",
                                     labels=["model"])
        inflight = GaugeMetricFamily(names.INFLIGHT_REQUESTS,
                                     "Requests being run by workers.", labels=["model"])
        workers = GaugeMetricFamily(names.WORKERS, "Worker processes by state.",
                                    labels=["model", "state"])
        admissions = CounterMetricFamily(names.QUEUE_ADMISSIONS,
                                         "Requests admitted to the queue.", labels=["model"])
        rejections = CounterMetricFamily(names.QUEUE_REJECTIONS,
                                         "Requests refused because the queue was full.",
                                         labels=["model"])
        expirations = CounterMetricFamily(names.REQUEST_EXPIRATIONS,
                                          "Requests whose deadline passed before an answer.",
                                          labels=["model"])
        restarts = CounterMetricFamily(names.WORKER_RESTARTS,
                                       "Workers that died and were replaced.", labels=["model"])
        cpu = CounterMetricFamily(names.WORKER_CPU, "CPU time of each worker process.",
                                  labels=["model", "worker"])
        memory = GaugeMetricFamily(names.WORKER_MEMORY, "Resident memory of each worker.",
                                   labels=["model", "worker"])
        anomaly_score = GaugeMetricFamily(
            names.ANOMALY_SCORE, "How far a signal is from its usual value, in spreads (drift: "
            "population stability index).", labels=["model", "signal"])
        anomaly_active = GaugeMetricFamily(names.ANOMALY_ACTIVE,
                                           "1 while the signal is anomalous.",
                                           labels=["model", "signal"])
        live_pids = set()
        snapshots = list(self._snapshot())
        gpu = self._gpu.read() if self._gpu is not None else None
        for snap in snapshots:
            model = snap.model
            depth.add_metric([model], snap.queue_depth)
            capacity.add_metric([model], snap.queue_capacity)
            inflight.add_metric([model], snap.inflight)
            for state, value in (("starting", snap.starting), ("ready", snap.ready),
                                 ("draining", snap.draining)):
                workers.add_metric([model, state], value)
            admissions.add_metric([model], snap.admissions)
            rejections.add_metric([model], snap.rejections)
            expirations.add_metric([model], snap.expirations)
            restarts.add_metric([model], snap.worker_restarts)
            for signal, score, active in snap.anomalies:
                anomaly_score.add_metric([model, signal], score)
                anomaly_active.add_metric([model, signal], 1.0 if active else 0.0)
            for worker in snap.workers:
                live_pids.add(worker.pid)
                usage = self._usage(worker.pid)
                if usage is not None:
                    cpu.add_metric([model, str(worker.worker_id)], usage[0])
                    memory.add_metric([model, str(worker.worker_id)], usage[1])
        for pid in set(self._processes) - live_pids:
            del self._processes[pid]
        yield from (depth, capacity, inflight, workers, admissions, rejections, expirations,
                    restarts, cpu, memory, anomaly_score, anomaly_active)
        yield from _failure_families(snapshots)
        if gpu is not None:
            yield from _gpu_families(gpu, snapshots)

    def _usage(self, pid: int) -> tuple[float, int] | None:
        try:
            process = self._processes.get(pid)
            if process is None:
                process = self._processes[pid] = psutil.Process(pid)
            with process.oneshot():
                times = process.cpu_times()
                return times.user + times.system, process.memory_info().rss
        except psutil.Error:
            self._processes.pop(pid, None)
            return None


def _failure_families(snapshots: Iterable[ModelSnapshot]) -> Iterable[Metric]:
    poison = CounterMetricFamily(names.POISON_REQUESTS, "Requests answered 500 because they "
                                 "made a worker die while running alone.", labels=["model"])
    kills = CounterMetricFamily(names.WATCHDOG_KILLS, "Workers killed because a batch ran past "
                                "its deadline or --max-batch-runtime-s.", labels=["model"])
    for snap in snapshots:
        poison.add_metric([snap.model], snap.poison_requests)
        kills.add_metric([snap.model], snap.watchdog_kills)
    yield from (poison, kills)


def _gpu_families(gpu: GpuSample, snapshots: Iterable[ModelSnapshot]) -> Iterable[Metric]:
    utilisation = GaugeMetricFamily(names.GPU_UTILISATION, "Share of time a kernel ran on "
                                    "each GPU (NVML).", labels=["gpu", "device"])
    used = GaugeMetricFamily(names.GPU_MEMORY_USED, "GPU memory in use, all processes.",
                             labels=["gpu", "device"])
    total = GaugeMetricFamily(names.GPU_MEMORY_TOTAL, "GPU memory installed.",
                              labels=["gpu", "device"])
    for device in gpu.devices:
        labels = [str(device.index), device.name]
        utilisation.add_metric(labels, device.utilisation)
        used.add_metric(labels, device.memory_used_bytes)
        total.add_metric(labels, device.memory_total_bytes)
    worker_share = GaugeMetricFamily(
        names.WORKER_GPU_UTILISATION, "Share of GPU multiprocessor time used by each worker "
        "since the previous scrape (1.0 = one whole GPU).", labels=["model", "worker"])
    worker_memory = GaugeMetricFamily(names.WORKER_GPU_MEMORY, "GPU memory each worker holds.",
                                      labels=["model", "worker"])
    for snap in snapshots:
        for worker in snap.workers:
            process = gpu.processes.get(worker.pid)
            if process is not None:
                labels = [snap.model, str(worker.worker_id)]
                worker_share.add_metric(labels, process.utilisation)
                worker_memory.add_metric(labels, process.memory_bytes)
    yield from (utilisation, used, total, worker_share, worker_memory)
