"""How a batch travels to its worker, and its answer back to each request.

A batchable model's batch is stacked along dimension 0 (one array per input crosses the process
boundary, large ones through the input arena) and its stacked answer is split back with views,
by each request's rows; other models get their requests one by one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ebb.serving.ipc import Arena, place_stacked
from ebb.serving.queue import Pending


def batch_message(batch: list[Pending], batchable: bool, arena: Arena) -> tuple[Any, ...]:
    if not batchable:
        return "each", [{t.name: t.data for t in item.request.inputs} for item in batch]
    parts: dict[str, list[np.ndarray]] = {t.name: [] for t in batch[0].request.inputs}
    for item in batch:
        for tensor in item.request.inputs:
            parts[tensor.name].append(tensor.data)
    return "stacked", place_stacked(parts, arena), arena.size


def split_answers(outputs: dict[str, np.ndarray], batch: list[Pending]
                  ) -> list[dict[str, np.ndarray]]:
    """Views of the stacked answer, one per request, by each request's rows."""
    if len(batch) == 1:
        return [outputs]
    answers = []
    offset = 0
    for item in batch:
        end = offset + item.rows
        answers.append({name: array[offset:end] for name, array in outputs.items()})
        offset = end
    return answers


def deliver(batch: list[Pending], outcome: list[Any] | Exception, taken_at: float,
            seconds: float) -> None:
    """Answer each request of a finished batch (one answer each, or one error for all) and
    stop its deadline timer; a request already answered 504 while it ran keeps that answer."""
    size = len(batch)
    for index, item in enumerate(batch):
        item.taken_at, item.batch_size, item.inference_s = taken_at, size, seconds
        if item.timer is not None:
            item.timer.cancel()
        if item.future.done():
            continue
        if isinstance(outcome, Exception):
            item.future.set_exception(outcome)
        else:
            item.future.set_result(outcome[index])
