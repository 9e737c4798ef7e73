"""The real stores, SQLite and PostgreSQL: migrations, capture modes, queries and pruning."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import replace
from typing import Any

import numpy as np
import psycopg
import pytest

from ebb.inference_log.queries import LogFilter
from ebb.inference_log.rows import request_rows
from ebb.inference_log.schema import BOOTSTRAP, MIGRATIONS
from ebb.inference_log.store import open_store
from ebb.inference_log.url import parse_database_url
from tests.inference_log._records import INPUT, record


def sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run one statement with the driver directly, as a person auditing the log would."""
    parsed = parse_database_url(url)
    if parsed.engine == "sqlite":
        with sqlite3.connect(parsed.target) as db:
            return db.execute(statement).fetchall()
    with psycopg.connect(parsed.target, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


async def test_migrations_create_the_schema_once(log_url: str) -> None:
    for _ in range(2):  # the second start finds everything applied and changes nothing
        store = open_store(parse_database_url(log_url))
        await store.connect()
        await store.close()
    assert sql(log_url, "SELECT version FROM schema_migrations") == [
        (migration.version,) for migration in MIGRATIONS]
    for table in ("models", "model_versions", "requests", "tensors", "request_log",
                  "signatures", "signature_tensors", "tensor_data"):
        assert sql(log_url, f"SELECT count(*) FROM {table}") == [(0,)]
    assert sql(log_url, "SELECT name FROM protocols ORDER BY id") == [
        ("rest",), ("rest_v1",), ("grpc",)]


async def test_migration_2_moves_version_1_tensors_into_signatures(log_url: str) -> None:
    engine = parse_database_url(log_url).engine
    blob = "x'00ff'" if engine == "sqlite" else "'\\x00ff'::bytea"
    for statement in (BOOTSTRAP[engine], *MIGRATIONS[0].statements[engine],
                      "INSERT INTO schema_migrations (version, name) VALUES (1, 'v1')",
                      "INSERT INTO models (name) VALUES ('double')",
                      "INSERT INTO model_versions (model_id, version) VALUES (1, '1')",
                      *[f"INSERT INTO requests (client_request_id, model_version_id, "
                        f"received_at, status, latency_s, queue_wait_s, inference_s, "
                        f"batch_size) VALUES ('old{i}', 1, "
                        f"{'1e9' if engine == 'sqlite' else 'now()'}, 200, 0.1, 0, 0, 1)"
                        for i in (1, 2, 3)],
                      "INSERT INTO tensors VALUES (1, 'in', 0, 'INPUT0', 'FP32', '[1, 16]', "
                      f"NULL, {blob}), (1, 'out', 0, 'OUTPUT0', 'FP32', '[1, 16]', NULL, NULL),"
                      " (2, 'out', 0, 'OUTPUT0', 'FP32', '[1, 16]', NULL, NULL),"
                      " (2, 'in', 0, 'INPUT0', 'FP32', '[1, 16]', NULL, NULL),"
                      " (3, 'in', 0, 'INPUT0', 'FP32', '[2, 16]', NULL, NULL)"):
        sql(log_url, statement)
    store = open_store(parse_database_url(log_url))
    await store.connect()
    await store.write(request_rows([record(0)], "none"))  # the same signature as old1, old2
    await store.close()
    assert sql(log_url, "SELECT count(*) FROM signatures") == [(2,)]
    assert sql(log_url, "SELECT count(DISTINCT signature_id) FROM requests") == [(2,)]
    assert sql(log_url, "SELECT request_id, direction, shape, payload IS NOT NULL FROM tensors "
                        "ORDER BY request_id, direction") == [
        (1, "in", "[1, 16]", True), (1, "out", "[1, 16]", False),
        (2, "in", "[1, 16]", False), (2, "out", "[1, 16]", False),
        (3, "in", "[2, 16]", False), (4, "in", "[1, 16]", False),
        (4, "out", "[1, 16]", False)]


async def test_a_newer_schema_is_refused(log_url: str) -> None:
    store = open_store(parse_database_url(log_url))
    await store.connect()
    await store.close()
    sql(log_url, "INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
    with pytest.raises(ValueError, match=r"schema version\(s\) \[999\]"):
        await open_store(parse_database_url(log_url)).connect()


@pytest.mark.parametrize("capture", ["none", "hash", "full"])
async def test_capture_modes_store_what_they_say(log_url: str, capture: Any) -> None:
    store = open_store(parse_database_url(log_url))
    await store.connect()
    await store.write(request_rows([record(0), record(1, failed=True)], capture))
    await store.close()
    rows = sql(log_url, "SELECT t.direction, t.name, t.datatype, t.shape, t.digest, t.payload "
                        "FROM tensors t JOIN requests r ON r.id = t.request_id "
                        "ORDER BY r.client_request_id, t.direction")
    assert [row[:4] for row in rows] == [("in", "INPUT0", "FP32", "[1, 16]"),
                                         ("out", "OUTPUT0", "FP32", "[1, 16]"),
                                         ("in", "INPUT0", "FP32", "[1, 16]")]
    first_input = INPUT.tobytes()
    digest, payload = rows[0][4], rows[0][5]
    if capture == "none":
        assert digest is None and payload is None
    elif capture == "hash":
        assert bytes(digest) == hashlib.sha256(first_input).digest() and payload is None
    else:
        assert digest is None
        np.testing.assert_array_equal(np.frombuffer(bytes(payload), "<f4"), INPUT.ravel())
        np.testing.assert_array_equal(np.frombuffer(bytes(rows[1][5]), "<f4"),
                                      INPUT.ravel() * 2)


async def test_models_and_versions_are_stored_once(log_url: str) -> None:
    store = open_store(parse_database_url(log_url))
    await store.connect()
    for start in (0, 10):
        await store.write(request_rows([record(start + i) for i in range(5)], "none"))
    await store.write(request_rows([record(99, model="other")], "none"))
    await store.close()
    assert sql(log_url, "SELECT count(*) FROM requests") == [(11,)]
    assert sql(log_url, "SELECT name FROM models ORDER BY name") == [("double",), ("other",)]
    assert sql(log_url, "SELECT count(*) FROM model_versions") == [(2,)]
    assert sql(log_url, "SELECT count(*) FROM request_log WHERE answered_at > received_at") == [
        (11,)]


async def test_query_filters_and_prune(log_url: str) -> None:
    now = time.time()
    old = [record(i, received_at=now - 10 * 86_400) for i in range(3)]
    new = [record(10 + i, received_at=now - 60 * i) for i in range(4)]
    store = open_store(parse_database_url(log_url))
    await store.connect()
    await store.write(request_rows([*old, *new, record(20, failed=True, model="other")], "none"))
    recent = await store.query(LogFilter(since=now - 3600))
    assert [entry.request_id for entry in recent] == ["r20", "r10", "r11", "r12", "r13"]
    failed = await store.query(LogFilter(since=now - 3600, status=(400, 499)))
    assert [(e.request_id, e.model, e.status, e.error) for e in failed] == [
        ("r20", "other", 400, "bad input")]
    assert len(await store.query(LogFilter(since=0, model="double", limit=2))) == 2
    assert await store.prune(now - 86_400) == 3
    assert len(await store.query(LogFilter(since=0))) == 5
    await store.close()
    assert sql(log_url, "SELECT count(*) FROM tensors") == [(9,)]


async def test_migration_3_leaves_requests_one_index_on_time(log_url: str) -> None:
    store = open_store(parse_database_url(log_url))
    await store.connect()
    await store.close()
    if parse_database_url(log_url).engine == "sqlite":
        names = sql(log_url, "SELECT name FROM sqlite_master WHERE type = 'index' "
                             "AND tbl_name = 'requests' AND name NOT LIKE 'sqlite_%'")
    else:
        names = sql(log_url, "SELECT indexname FROM pg_indexes WHERE tablename = 'requests' "
                             "AND indexname <> 'requests_pkey'")
    assert names == [("requests_by_time",)]


@pytest.mark.parametrize("capture", ["none", "hash"])
async def test_a_large_batch_round_trips_every_field(log_url: str, capture: Any) -> None:
    """250 rows: two multi-row SQLite INSERTs and a remainder; one PostgreSQL COPY block, with
    text that needs escaping and timestamps to the microsecond."""
    base = 1_796_058_405.000_001
    records = [record(i, received_at=base + i * 0.123_457, principal=f"key\t{i % 3}",
                      failed=i % 7 == 0) for i in range(250)]
    records[5] = replace(records[5], request=replace(records[5].request,
                                                     id="tab\there\nnewline\\slash"))
    store = open_store(parse_database_url(log_url))
    await store.connect()
    await store.write(request_rows(records, capture))
    entries = await store.query(LogFilter(since=base - 1, newest_first=False))
    await store.close()
    assert len(entries) == 250
    for source, entry in zip(records, entries, strict=True):
        assert entry.request_id == (source.request.id or None)
        assert entry.received_at == pytest.approx(source.received_at, abs=1.5e-6)
        assert (entry.status, entry.api_key_id, entry.protocol) == (
            source.status, source.principal, source.protocol)
        assert entry.latency_s == source.total_s and entry.batch_size == source.batch_size
        assert entry.error == (None if source.error is None else "bad input")
    tensors = sql(log_url, "SELECT count(*) FROM tensors")
    assert tensors == [(250 * 2 - len(range(0, 250, 7)),)]
