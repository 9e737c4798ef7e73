"""Pure parts: rows from records, sampling, backoff, URLs, durations and statuses."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from ebb.config import ConfigError, load_settings
from ebb.core.types import Tensor
from ebb.inference_log.backoff import backoff_delay
from ebb.inference_log.queries import parse_since, parse_status
from ebb.inference_log.rows import request_row, signature_key, signature_rows, tensor_bytes
from ebb.inference_log.sampling import Sampler
from ebb.inference_log.url import parse_database_url
from tests.inference_log._records import INPUT, record


def test_metadata_row_of_an_answered_request() -> None:
    row = request_row(record(0), "none")
    assert (row.model, row.version, row.client_request_id, row.status, row.batch_size) == (
        "double", "1", "r0", 200, 3)
    assert (row.latency_s, row.queue_wait_s, row.inference_s) == (0.004, 0.001, 0.002)
    assert row.error is None and row.api_key_id is None and row.protocol == "rest"
    assert row.payloads == ()
    assert [(t.direction, t.position, t.name, t.datatype, t.shape)
            for t in signature_rows(row.signature)] == [
        ("in", 0, "INPUT0", "FP32", "[1, 16]"), ("out", 0, "OUTPUT0", "FP32", "[1, 16]")]


def test_the_caller_is_carried_into_the_row() -> None:
    row = request_row(record(0, protocol="grpc", principal="ci-bot"), "none")
    assert (row.protocol, row.api_key_id) == ("grpc", "ci-bot")


def test_requests_alike_share_one_signature_and_keys_are_unambiguous() -> None:
    first, second = request_row(record(0), "none"), request_row(record(7), "full")
    assert first.signature == second.signature and hash(first.signature)
    failed = request_row(record(0, failed=True), "none")
    assert failed.signature != first.signature
    assert signature_key(first.signature) == (
        "in|0|FP32|[1, 16]|6|INPUT0\nout|0|FP32|[1, 16]|7|OUTPUT0")
    tricky = ((("a|1|x", "FP32", (1,)),), ())
    plain = ((("a", "FP32", (1,)),), ())
    assert signature_key(tricky) != signature_key(plain)


def test_failed_request_keeps_its_error_and_inputs_only() -> None:
    row = request_row(record(0, failed=True), "hash")
    assert (row.status, row.error, row.version) == (400, "bad input", "")
    assert [t.direction for t in signature_rows(row.signature)] == ["in"]
    assert row.payloads == (("in", 0, hashlib.sha256(INPUT.tobytes()).digest(), None),)


def test_full_payloads_are_little_endian_and_bytes_are_length_prefixed() -> None:
    big = Tensor("x", "INT32", np.array([1, 258], dtype=">i4"))
    assert tensor_bytes(big) == b"\x01\x00\x00\x00\x02\x01\x00\x00"
    words = Tensor("w", "BYTES", np.array([b"ab", b""], dtype=object))
    assert tensor_bytes(words) == b"\x02\x00\x00\x00ab\x00\x00\x00\x00"
    flags = Tensor("b", "BOOL", np.array([[True, False]]))
    assert tensor_bytes(flags) == b"\x01\x00"


@pytest.mark.parametrize(("fraction", "kept"), [(1.0, 1000), (0.25, 250), (0.1, 100),
                                                (1 / 3, 333), (0.001, 1)])
def test_sampling_keeps_exactly_the_fraction(fraction: float, kept: int) -> None:
    sampler = Sampler(fraction)
    assert sum(sampler.take() for _ in range(1000)) == kept


def test_sampling_is_deterministic_and_spread() -> None:
    first, second = Sampler(0.25), Sampler(0.25)
    pattern = [first.take() for _ in range(8)]
    assert pattern == [second.take() for _ in range(8)]
    assert pattern == [False, False, False, True] * 2


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [backoff_delay(n) for n in (1, 2, 3, 4)] == [0.1, 0.2, 0.4, 0.8]
    assert backoff_delay(50) == 5.0


def test_urls() -> None:
    assert parse_database_url("sqlite:///log.db").target == "log.db"
    assert parse_database_url("sqlite:////var/lib/log.db").target == "/var/lib/log.db"
    pg = parse_database_url("postgresql://ebb@db:5432/ebb")
    assert (pg.engine, pg.target) == ("postgresql", "postgresql://ebb@db:5432/ebb")
    for bad in ("log.db", "mysql://x/y", "sqlite://host/x", "sqlite:///", "sqlite:///:memory:",
                "postgresql://ebb@db:port/ebb", "postgresql://ebb@db:5432"):
        with pytest.raises(ValueError):
            parse_database_url(bad)


def test_a_bad_url_is_one_settings_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"inference_log": "mysql://db/ebb"})
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("invalid --inference-log (EBB_INFERENCE_LOG): "
                                        "unsupported database 'mysql'")
    settings = load_settings({"inference_log": "sqlite:///x.db",
                              "inference_log_payloads": "hash"})
    assert (settings.inference_log_payloads, settings.inference_log_sample,
            settings.inference_log_buffer, settings.inference_log_retention_days) == (
        "hash", 1.0, 10_000, 0)


def test_durations_and_statuses() -> None:
    assert [parse_since(text) for text in ("30s", "15m", "1h", "7d", "1.5h")] == [
        30, 900, 3600, 604_800, 5400]
    assert [parse_status(text) for text in ("200", "5xx", "4XX")] == [
        (200, 200), (500, 599), (400, 499)]
    for bad in ("1y", "", "h"):
        with pytest.raises(ValueError):
            parse_since(bad)
    for bad in ("6xx", "20", "ok"):
        with pytest.raises(ValueError):
            parse_status(bad)
