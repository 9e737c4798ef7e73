"""The worker process: load one model instance, then run the batches the gateway sends.

Protocol (pickled tuples, see ``ebb.serving.ipc``):
    worker -> gateway  ("ready", load_seconds) | ("failed", message)
    gateway -> worker  [fds of the input and output arenas, right after the start]
                       ("stacked", inputs stacked along dim 0, input arena size)
                       | ("each", [inputs per request]) | ("stop",)
    worker -> gateway  ("ok", stacked outputs | [outputs per request], seconds, output arena size)
                       | ("error", (message, traceback), seconds, output arena size)

Large stacked tensors lie in the arenas (``ebb.serving.ipc.Arena``); the message holds their
positions. A model must not keep references to its input arrays after ``infer`` returns.

The gateway stacks a batch of a batchable model before sending it: one array per input crosses
the process boundary instead of one per request, which costs far less to pickle, and it splits
the stacked answer back with views.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
import traceback
from collections.abc import Mapping

import numpy as np

from ebb.core.datatypes import numpy_dtype
from ebb.core.types import ModelMetadata
from ebb.runtime.base import ModelRuntime, ModelSource
from ebb.serving.ipc import Arena, fetch, place, recv_message, send_message
from ebb.serving.lifeline import die_with_parent

Inputs = Mapping[str, np.ndarray]
WORKER_NICENESS = 2


def worker_main(sock: socket.socket, source: ModelSource, metadata: ModelMetadata,
                gateway_pid: int) -> None:
    die_with_parent(gateway_pid)
    # Ctrl-C and SIGTERM reach the whole process group (a terminal, a container runtime): the
    # gateway decides when workers stop, after it drained them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # A slightly lower priority than the gateway: under CPU contention the gateway keeps
    # admitting, shedding and answering instead of freezing behind its own workers.
    os.nice(WORKER_NICENESS)
    batch_scheduling()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _, fds, _, _ = socket.recv_fds(sock, 16, 2)
    if len(fds) != 2:
        return  # the gateway stopped this worker before it started
    arena_in, arena_out = (Arena(fd, os.fstat(fd).st_size) for fd in fds)
    started = time.perf_counter()
    try:
        model = source.load()
    except Exception as error:
        send_message(sock, ("failed", f"{type(error).__name__}: {error}"))
        return
    send_message(sock, ("ready", time.perf_counter() - started))
    while True:
        try:
            message = recv_message(sock)
        except (EOFError, ConnectionError):
            return
        if message[0] == "stop":
            return
        began = time.perf_counter()
        try:
            outputs: object
            if message[0] == "stacked":
                inputs = fetch(message[1], arena_in, message[2], copy=False)
                outputs = place(run_stacked(model, inputs, metadata), arena_out)
            else:
                outputs = [_conform(model.infer(inputs), metadata) for inputs in message[1]]
        except Exception as error:
            # (message for the client, traceback for the server's log only)
            send_message(sock, ("error", (f"{type(error).__name__}: {error}",
                                          traceback.format_exc(limit=-20)),
                                time.perf_counter() - began, arena_out.size))
            continue
        send_message(sock, ("ok", outputs, time.perf_counter() - began, arena_out.size))


def batch_scheduling() -> None:
    """Run under SCHED_BATCH: a worker woken by a batch then does not preempt the gateway that
    sent it. On a shared core the gateway finishes what it has in hand (the next arrivals,
    answers to send) before the worker runs, instead of being switched out at every batch and
    waiting behind other processes to get the core back; on a core of its own the worker runs
    at once as before. Where the policy is missing, the default one stays."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


def run_stacked(model: ModelRuntime, stacked: Inputs, metadata: ModelMetadata
                ) -> dict[str, np.ndarray]:
    """Run one stacked batch; every output must keep the batch's rows in dimension 0."""
    outputs = _conform(model.infer(stacked), metadata)
    total = next(iter(stacked.values())).shape[0]
    for name, array in outputs.items():
        if array.ndim == 0 or array.shape[0] != total:
            raise ValueError(f"output {name!r} has shape {list(array.shape)}, but the batch "
                             f"had {total} rows")
    return outputs


def _conform(outputs: Mapping[str, object], metadata: ModelMetadata) -> dict[str, np.ndarray]:
    """Give each output the declared datatype, so encoders can trust it."""
    declared = {spec.name: spec.datatype for spec in metadata.outputs}
    undeclared = sorted(str(name) for name in outputs if name not in declared)
    missing = [name for name in declared if name not in outputs]
    if undeclared or missing:  # metadata and answers must never disagree
        raise ValueError(declared_mismatch(metadata.name, undeclared, missing, list(declared)))
    conformed = {}
    for name, value in outputs.items():
        conformed[name] = np.ascontiguousarray(np.asarray(value),
                                               dtype=numpy_dtype(declared[name]))
    return conformed


def declared_mismatch(model: str, undeclared: list[str], missing: list[str],
                      declared: list[str]) -> str:
    what = [f"output(s) it does not declare: {', '.join(undeclared)}" if undeclared else "",
            f"no declared output(s) {', '.join(missing)}" if missing else ""]
    return (f"model {model!r} returned {'; '.join(part for part in what if part)} "
            f"(declared outputs: {', '.join(declared)})")
