"""``ebb k8s recommend``: pod resources for W workers from what a running server measured.

Two scrapes of a server's ``/metrics`` ``--window-s`` apart give, per worker, the CPU it burnt
(``ebb_worker_cpu_seconds_total``) and its resident memory, the time it spent on batches
(``ebb_inference_duration_seconds``) and the requests it answered; the gateway's own share
comes from the ``process_*`` metrics. CPU need is about linear in the workers (SPEC §2(h)), so

- cpu target: W workers flat out (cores burnt per busy second, times W) plus the gateway at
  the rate W busy workers answer, with VPA's 15 % safety margin
  (``--recommendation-margin-fraction``); lowerBound: what the measured load used, scaled to
  W workers; upperBound: the target at the busiest worker's CPU;
- memory target: W mean workers plus the gateway, plus the margin; lowerBound: W of the
  smallest; upperBound: W of the largest plus the margin.

Printed in the field names of VPA's ``RecommendedContainerResources`` (target, lowerBound,
upperBound) so that it reads like, and compares with, a VerticalPodAutoscaler's status.

    ebb k8s recommend --url http://127.0.0.1:8080 --workers 4 --window-s 30 --format yaml
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import yaml

from ebb.metrics import names
from ebb.metrics.exposition import parse_samples

MARGIN = 0.15
"""VPA recommender's `--recommendation-margin-fraction` default."""
MIB = 2**20


@dataclass(frozen=True, slots=True)
class Scrape:
    """What one `/metrics` read says, summed over models; per worker keyed by (model, id)."""

    at: float
    worker_cpu_s: Mapping[tuple[str, str], float]
    worker_memory: Mapping[tuple[str, str], float]
    batch_seconds: float
    answered: float
    gateway_cpu_s: float
    gateway_memory: float
    models: tuple[str, ...] = field(default=())


def parse_scrape(text: str, at: float) -> Scrape:
    """The numbers `recommend` needs from one exposition text read at `at` (seconds)."""
    cpu: dict[tuple[str, str], float] = {}
    memory: dict[tuple[str, str], float] = {}
    totals = {"batch": 0.0, "answered": 0.0, "cpu": 0.0, "rss": 0.0}
    models: dict[str, None] = {}
    for name, labels, value in parse_samples(text):
        worker = (labels.get("model", ""), labels.get("worker", ""))
        if name == names.WORKER_CPU + "_total":
            cpu[worker] = value
        elif name == names.WORKER_MEMORY:
            memory[worker] = value
        elif name == names.INFERENCE_DURATION + "_sum":
            totals["batch"] += value
        elif name == names.BATCH_SIZE + "_sum":
            totals["answered"] += value
        elif name == "process_cpu_seconds_total":
            totals["cpu"] = value
        elif name == "process_resident_memory_bytes":
            totals["rss"] = value
        if "model" in labels and name.startswith("ebb_"):
            models[labels["model"]] = None
    return Scrape(at, cpu, memory, totals["batch"], totals["answered"], totals["cpu"],
                  totals["rss"], tuple(models))


@dataclass(frozen=True, slots=True)
class Measured:
    """The window between two scrapes, per worker and for the gateway."""

    window_s: float
    workers: int
    answered_per_s: float
    busy_fraction: float
    """Mean share of the window a worker spent on batches."""
    worker_cores: float
    """Mean cores a worker burnt over the window (at the measured load)."""
    cores_per_busy_s: float
    """Mean cores a worker burns while it runs a batch (flat out)."""
    busiest_cores_per_busy_s: float
    answered_per_busy_s: float
    """Requests one worker answers per second of batches: its capacity."""
    inferences_per_cpu_s: float
    worker_memory_mean: float
    worker_memory_min: float
    worker_memory_max: float
    gateway_cores: float
    gateway_cpu_per_answer_s: float
    gateway_memory: float


class RecommendError(ValueError):
    """The scrapes cannot support a recommendation; the message says why in one line."""


def measure(first: Scrape, second: Scrape) -> Measured:
    """What happened between two scrapes of one server."""
    window = second.at - first.at
    common = sorted(set(first.worker_cpu_s) & set(second.worker_cpu_s))
    if window <= 0 or not common:
        raise RecommendError("no worker was present in both scrapes (is the server ready, "
                             "and is it an Ebb server?)")
    cpu = [max(second.worker_cpu_s[w] - first.worker_cpu_s[w], 0.0) for w in common]
    busy = max(second.batch_seconds - first.batch_seconds, 0.0)
    answered = max(second.answered - first.answered, 0.0)
    gateway_cpu = max(second.gateway_cpu_s - first.gateway_cpu_s, 0.0)
    per_busy = sum(cpu) / busy if busy > 0 else sum(cpu) / (window * len(common))
    busiest = max(cpu) * len(common) / busy if busy > 0 else max(cpu) / window
    rss = [max(first.worker_memory.get(w, 0.0), second.worker_memory.get(w, 0.0))
           for w in common]
    return Measured(
        window_s=window, workers=len(common), answered_per_s=answered / window,
        busy_fraction=busy / (window * len(common)), worker_cores=sum(cpu) / (window * len(cpu)),
        cores_per_busy_s=per_busy, busiest_cores_per_busy_s=max(busiest, per_busy),
        answered_per_busy_s=answered / busy if busy > 0 else 0.0,
        inferences_per_cpu_s=answered / sum(cpu) if sum(cpu) > 0 else 0.0,
        worker_memory_mean=sum(rss) / len(rss), worker_memory_min=min(rss),
        worker_memory_max=max(rss), gateway_cores=gateway_cpu / window,
        gateway_cpu_per_answer_s=gateway_cpu / answered if answered > 0 else 0.0,
        gateway_memory=max(first.gateway_memory, second.gateway_memory))


def cpu_quantity(cores: float) -> str:
    """Cores in Kubernetes notation, rounded up to a millicore: ``1500m``, ``2``."""
    milli = max(1, math.ceil(cores * 1000 - 1e-6))
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def memory_quantity(size: float) -> str:
    """Bytes in Kubernetes notation, rounded up to a mebibyte: ``300Mi``, ``2Gi``."""
    mib = max(1, math.ceil(size / MIB - 1e-9))
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


def resources(measured: Measured, workers: int) -> dict[str, dict[str, str]]:
    """target, lowerBound and upperBound for a pod of `workers` workers and one gateway."""
    m = measured
    flat_out = workers * m.answered_per_busy_s * m.gateway_cpu_per_answer_s
    gateway_cores = max(m.gateway_cores, flat_out)
    cpu_target = (workers * m.cores_per_busy_s + gateway_cores) * (1 + MARGIN)
    cpu_lower = workers * m.worker_cores + m.gateway_cores
    cpu_upper = (workers * m.busiest_cores_per_busy_s + gateway_cores) * (1 + MARGIN)
    mem_target = (workers * m.worker_memory_mean + m.gateway_memory) * (1 + MARGIN)
    mem_lower = workers * m.worker_memory_min + m.gateway_memory
    mem_upper = (workers * m.worker_memory_max + m.gateway_memory) * (1 + MARGIN)
    return {
        "target": {"cpu": cpu_quantity(cpu_target), "memory": memory_quantity(mem_target)},
        "lowerBound": {"cpu": cpu_quantity(cpu_lower), "memory": memory_quantity(mem_lower)},
        "upperBound": {"cpu": cpu_quantity(cpu_upper), "memory": memory_quantity(mem_upper)},
    }


def explain(measured: Measured, workers: int) -> list[str]:
    """A few lines on W workers per pod vs more pods, from the numbers measured."""
    m = measured
    worker_mib = m.worker_memory_mean / MIB
    gateway_mib = m.gateway_memory / MIB
    share = gateway_mib / (gateway_mib + workers * worker_mib) if worker_mib else 0.0
    lines = [
        f"{workers} worker(s) per pod share one queue and one gateway: a batch goes to whichever "
        f"worker frees first, so a pod of {workers} queues like {workers} servers behind one "
        "line, not like separate pods behind a load balancer.",
        f"The gateway costs {gateway_mib:.0f} MiB and {m.gateway_cores:.2f} cores per pod; at "
        f"{workers} worker(s) of {worker_mib:.0f} MiB that is {share:.0%} of the pod's memory "
        "(fewer, larger pods pay it less often).",
        "More pods of fewer workers: a crash, an eviction or a node drain takes out less "
        "capacity at once, pods fit on more nodes, and the autoscaler moves in smaller steps "
        f"(one pod = {workers} worker(s) = about {workers * m.answered_per_busy_s:.0f} "
        "requests/s here).",
    ]
    if m.answered_per_busy_s == 0:
        lines.append("No batch ran in the window: the CPU figures are idle ones. Measure under "
                     "load (--load RATE) for a useful target.")
    elif m.cores_per_busy_s < 0.5:
        lines.append(f"A busy worker burns only {m.cores_per_busy_s:.2f} cores (I/O or an "
                     "accelerator does the work): CPU utilisation will not track load, so scale "
                     "on queue depth, not CPU.")
    return lines


def document(measured: Measured, workers: int, container: str, source: str
             ) -> dict[str, Any]:
    """The whole answer: VPA-shaped recommendation, the measurements, the explanation."""
    m = measured
    return {
        "source": source,
        "workers": workers,
        "recommendation": {"containerRecommendations": [
            {"containerName": container, **resources(measured, workers)}]},
        "measured": {
            "window_s": round(m.window_s, 3), "workers": m.workers,
            "answered_per_s": round(m.answered_per_s, 3),
            "worker_busy_fraction": round(m.busy_fraction, 4),
            "worker_cores": round(m.worker_cores, 4),
            "worker_cores_while_busy": round(m.cores_per_busy_s, 4),
            "worker_answers_per_busy_s": round(m.answered_per_busy_s, 3),
            "inferences_per_cpu_second": round(m.inferences_per_cpu_s, 3),
            "worker_memory_bytes": round(m.worker_memory_mean),
            "gateway_cores": round(m.gateway_cores, 4),
            "gateway_memory_bytes": round(m.gateway_memory),
        },
        "workers_per_pod": explain(measured, workers),
    }


def table(doc: Mapping[str, Any]) -> str:
    """The answer for a terminal."""
    rec = doc["recommendation"]["containerRecommendations"][0]
    lines = [f"pod resources for {doc['workers']} worker(s), container {rec['containerName']} "
             f"(measured on {doc['source']}):",
             f"{'':<11} {'cpu':>8} {'memory':>9}"]
    for key in ("lowerBound", "target", "upperBound"):
        lines.append(f"{key:<11} {rec[key]['cpu']:>8} {rec[key]['memory']:>9}")
    lines.append("")
    lines += [f"{key}: {value}" for key, value in doc["measured"].items()]
    lines.append("")
    lines += [f"- {line}" for line in doc["workers_per_pod"]]
    return "\n".join(lines)


def models_in(scrapes: Iterable[Scrape]) -> tuple[str, ...]:
    """Every model the scrapes mention, in order."""
    return tuple(dict.fromkeys(model for s in scrapes for model in s.models))


# ---------------------------------------------------------------------------------------------
# The command: I/O at the edge


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `ebb k8s recommend` flags."""
    parser.add_argument("--url", required=True, metavar="http://HOST:PORT",
                        help="a running Ebb server (its /metrics is read twice)")
    parser.add_argument("--workers", type=int, default=1, metavar="W",
                        help="workers per pod to size for (default: 1)")
    parser.add_argument("--window-s", type=float, default=30.0,
                        help="seconds between the two scrapes (default: 30)")
    parser.add_argument("--load", type=float, metavar="RATE", default=None,
                        help="drive `ebb load` at RATE requests/s against the server during "
                             "the window (default: measure whatever traffic it has)")
    parser.add_argument("--model", help="model to load with --load (default: the server's "
                                        "first)")
    parser.add_argument("--container", default="ebb",
                        help="containerName to print (kserve-container under KServe; "
                             "default: ebb)")
    parser.add_argument("--format", choices=("yaml", "json", "table"), default="yaml")


def run(args: argparse.Namespace) -> int:
    """Scrape, measure, print; 2 with a one-line error when the input cannot be used."""
    try:
        if args.workers < 1 or args.window_s <= 0 or (args.load is not None and args.load <= 0):
            raise RecommendError("--workers, --window-s and --load must be positive")
        doc = document(measure(*_scrapes(args)), args.workers, args.container, args.url)
    except (RecommendError, httpx.HTTPError) as error:
        print(f"ebb k8s recommend: error: {error}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(doc, indent=2))
    elif args.format == "table":
        print(table(doc))
    else:
        notes = "".join(f"# {line}\n" for line in doc.pop("workers_per_pod"))
        print(f"# ebb k8s recommend: VPA RecommendedContainerResources for "
              f"{args.workers} worker(s) per pod\n{notes}"
              + yaml.safe_dump(doc, sort_keys=False), end="")
    return 0


def _read(client: httpx.Client, url: str) -> Scrape:
    response = client.get(f"{url.rstrip('/')}/metrics")
    response.raise_for_status()
    return parse_scrape(response.text, time.monotonic())


def _scrapes(args: argparse.Namespace) -> tuple[Scrape, Scrape]:
    """Two scrapes `--window-s` apart, with `ebb load` running between them if asked."""
    with httpx.Client(timeout=10.0) as client:
        first = _read(client, args.url)
        if args.load is None:
            time.sleep(args.window_s)
            return first, _read(client, args.url)
        model = args.model or next(iter(first.models), None)
        if model is None:
            raise RecommendError("the server reports no model; pass --model")
        load = subprocess.Popen(
            [sys.executable, "-m", "ebb.cli", "load", args.url, "--model", model, "--rate",
             str(args.load), "--duration", str(args.window_s + LOAD_START_S), "--no-progress",
             "--no-metrics"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            first = _first_answers(client, args.url, load)
            time.sleep(args.window_s)
            second = _read(client, args.url)
        finally:
            load.terminate()
            try:
                load.wait(timeout=10)
            except subprocess.TimeoutExpired:
                load.kill()
                load.wait()
        return first, second


LOAD_START_S = 60.0
"""Longest wait for `ebb load` to start answering (it imports numpy and httpx first)."""


def _first_answers(client: httpx.Client, url: str, load: subprocess.Popen[str]) -> Scrape:
    """A scrape taken once the load's first answers show, so the window is all under load."""
    base = _read(client, url)
    deadline = time.monotonic() + LOAD_START_S
    while time.monotonic() < deadline:
        time.sleep(0.25)
        latest = _read(client, url)
        if latest.answered > base.answered:
            return latest
        if load.poll() is not None:
            error = (load.stderr.read() if load.stderr else "").strip().splitlines()
            raise RecommendError(f"ebb load exited with {load.returncode}: "
                                 f"{error[-1] if error else 'no output'}")
    raise RecommendError(f"no answers within {LOAD_START_S:g} s of starting ebb load")
