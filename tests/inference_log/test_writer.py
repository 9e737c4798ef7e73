"""The hook and the writer loop on the in-memory store: buffering, drops, outages, flushing."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ebb.inference_log.fake import MemoryStore
from ebb.inference_log.writer import InferenceLog, LogOptions
from tests.inference_log._records import record


def make_log(store: MemoryStore, buffer: int = 1000, sample: float = 1.0) -> InferenceLog:
    options = LogOptions("none", sample, buffer, 0.0, batch_size=100, flush_interval_s=0.01,
                         drop_report_interval_s=0.05, shutdown_flush_s=0.5)
    return InferenceLog(store, options, "memory")


async def settle(log: InferenceLog, written: int) -> None:
    for _ in range(500):
        if log.written >= written:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"written {log.written}, wanted {written}")


async def test_every_record_is_written_in_batches() -> None:
    store = MemoryStore()
    log = make_log(store)
    stopping = asyncio.Event()
    task = asyncio.create_task(log.run(stopping))
    for index in range(250):
        log.hook(record(index))
    await settle(log, 250)
    stopping.set()
    await task
    await log.close()
    assert [row.client_request_id for row in store.rows] == [f"r{i}" for i in range(250)]
    assert store.writes >= 3 and tuple(log.counts()) == (250, 0, 0)


async def test_a_full_buffer_drops_records_never_blocks() -> None:
    store = MemoryStore()
    log = make_log(store, buffer=10)
    for index in range(25):
        log.hook(record(index))
    assert tuple(log.counts()) == (0, 15, 10)
    await log.close()
    assert [row.client_request_id for row in store.rows] == [f"r{i}" for i in range(10)]


async def test_sampling_happens_in_the_hook() -> None:
    store = MemoryStore()
    log = make_log(store, sample=0.5)
    for index in range(10):
        log.hook(record(index))
    assert log.counts().buffered == 5


async def test_an_outage_buffers_then_reconnects(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    log = make_log(store, buffer=50)
    stopping = asyncio.Event()
    task = asyncio.create_task(log.run(stopping))
    log.hook(record(0))
    await settle(log, 1)
    store.available = False
    with caplog.at_level(logging.WARNING, "ebb.inference_log"):
        for index in range(1, 80):
            log.hook(record(index))
            await asyncio.sleep(0.001)
        assert log.written == 1 and log.dropped == 29
        store.available = True
        await settle(log, 51)
    stopping.set()
    await task
    await log.close()
    assert store.connects >= 2 and len(store.rows) == 51
    messages = [entry.getMessage() for entry in caplog.records]
    assert sum("unavailable" in text for text in messages) == 1
    assert sum("reachable again" in text for text in messages) == 1
    assert 1 <= sum("dropped" in text for text in messages) <= 3


async def test_close_flushes_and_counts_what_it_could_not_write() -> None:
    store = MemoryStore()
    log = make_log(store)
    for index in range(5):
        log.hook(record(index))
    await log.close()
    assert len(store.rows) == 5 and log.counts() == (5, 0, 0)
    store.available = False
    down = make_log(store)
    down.hook(record(9))
    await down.close()
    assert down.counts() == (0, 1, 0)


async def test_rows_a_store_refuses_are_dropped_not_retried() -> None:
    class Refusing(MemoryStore):
        async def write(self, rows: object) -> None:
            raise RuntimeError("constraint violated")

    log = make_log(Refusing())
    log.hook(record(0))
    await log.close()
    assert log.counts() == (0, 1, 0)


async def test_refusals_are_logged_but_never_crowd_out_answered_requests() -> None:
    store = MemoryStore()
    log = make_log(store, buffer=10)
    for index in range(3):
        log.hook(record(index))
    for _ in range(5):  # a flood of requests without keys: only up to half the buffer
        log.refused("double", 401, "the API key is not valid", "rest", None)
    log.refused(None, 403, "key 'ci' lacks the 'infer' role", "grpc", "ci")
    for index in range(3, 10):
        log.hook(record(index))
    # 3 answered + 2 refused fill half the buffer; 4 refusals dropped; 5 of 7 answered fit
    assert tuple(log.counts()) == (0, 4 + 2, 10)
    await log.close()
    refused = [row for row in store.rows if row.status >= 400]
    assert [(row.model, row.version, row.status, row.protocol, row.api_key_id, row.error)
            for row in refused] == [("double", "", 401, "rest", None,
                                     "the API key is not valid")] * 2
    assert refused[0].signature == ((), ()) and refused[0].latency_s == 0.0
