"""The statistics book: per model version counts and durations, from inference records."""

from __future__ import annotations

import numpy as np

from ebb.core.dispatch import InferenceRecord
from ebb.core.errors import InvalidInput
from ebb.core.repository import BatchStatistics, Duration
from ebb.core.types import InferRequest, InferResponse, Tensor
from ebb.repository.statistics import StatisticsBook, batch_statistics

X = (Tensor("x", "FP32", np.zeros((1, 4), np.float32)),)


def _record(version: str, ok: bool, asked: str = "") -> InferenceRecord:
    request = InferRequest("m", X, model_version=asked)
    response = InferResponse("m", version, ()) if ok else None
    return InferenceRecord(request, response, None if ok else InvalidInput("no"),
                           200 if ok else 400, 1000.0, 0.25 if ok else 0.0, 0.5 if ok else 0.0,
                           1.0, 2 if ok else 0, "rest", None)


def test_counts_by_version() -> None:
    book = StatisticsBook(lambda name: "2", lambda name, version: 7)
    book.start("m", "1")
    book.start("m", "2")
    book(_record("1", ok=True))
    book(_record("2", ok=True))
    book(_record("2", ok=True))
    book(_record("", ok=False))            # no version asked: the latest's failure
    book(_record("", ok=False, asked="1"))
    two = book.report("m", "2")
    assert (two.inference_count, two.execution_count) == (2, 7)
    assert two.success == Duration(2, 2_000_000_000)
    assert two.fail == Duration(1, 1_000_000_000)
    assert two.queue == Duration(2, 500_000_000)
    assert two.compute_infer == Duration(2, 1_000_000_000)
    assert two.last_inference_ms == 1_001_000
    assert book.report("m", "1").fail == Duration(1, 1_000_000_000)


def test_unknown_names_make_no_series() -> None:
    book = StatisticsBook(lambda name: None, lambda name, version: 0)
    book(_record("1", ok=True))
    assert book.report("m", "1").inference_count == 0
    book.start("m", "1")
    book.forget("m")
    book(_record("1", ok=True))
    assert book.report("m", "1").inference_count == 0


def test_batches_by_size_smallest_first() -> None:
    by_size = {8: [2, 0.5], 1: [3, 0.25]}
    book = StatisticsBook(lambda name: "1", lambda name, version: 5,
                          lambda name, version: batch_statistics(by_size))
    book.start("m", "1")
    assert book.report("m", "1").batches == (
        BatchStatistics(1, Duration(3, 250_000_000)), BatchStatistics(8, Duration(2, 500_000_000)))
