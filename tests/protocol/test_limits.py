"""Bounds checked before allocation: shapes against the bytes sent, nesting, numeric headers,
the shared memory budget and the rate-limited client-error log."""

from __future__ import annotations

import logging

import pytest

from ebb.core.errors import InvalidInput, Unavailable
from ebb.protocol.budget import MemoryBudget
from ebb.protocol.errorlog import ClientErrorLog
from ebb.protocol.limits import MAX_DIMS, ElementAllowance, count_header, flatten


def test_a_shape_may_claim_no_more_elements_than_the_body_carries() -> None:
    allowance = ElementAllowance(100)
    assert allowance.claim((2, 30), "a") == 60
    assert allowance.claim((40,), "b") == 40
    with pytest.raises(InvalidInput, match=r"input 'c'.*claims 1 elements"):
        allowance.claim((1,), "c")
    with pytest.raises(InvalidInput, match="claims 400000000 elements, more than 284 bytes"):
        ElementAllowance(284).claim((1, 400_000_000), "x")


def test_ranks_and_empty_tensors_with_huge_dimensions_are_refused() -> None:
    assert ElementAllowance(10).claim((1,) * MAX_DIMS, "x") == 1
    with pytest.raises(InvalidInput, match="65 dimensions; at most 16"):
        ElementAllowance(10).claim((1,) * 65, "x")
    assert ElementAllowance(0).claim((0, 16), "x") == 0
    with pytest.raises(InvalidInput, match="too large"):
        ElementAllowance(0).claim((0, 2**40, 2**40), "x")
    with pytest.raises(InvalidInput, match="negative"):
        ElementAllowance(10).claim((-1,), "x")


def test_flatten_is_iterative_and_refuses_deep_nesting() -> None:
    assert flatten([[1, 2], [3, [4, 5]]], "x") == [1, 2, 3, 4, 5]
    assert flatten("a", "x") == ["a"]
    deep: object = "a"
    for _ in range(1000):
        deep = [deep]
    with pytest.raises(InvalidInput, match="nested more than 16 deep"):
        flatten(deep, "x")
    ok: object = "a"
    for _ in range(MAX_DIMS):
        ok = [ok]
    assert flatten(ok, "x") == ["a"]


@pytest.mark.parametrize("value", [b"1_000", b"+5", b" 5", b"-1", b"", b"1e3", b"\xd9\xa1",
                                   b"9" * 19, b"9" * 400])
def test_numeric_headers_are_plain_short_digits(value: bytes) -> None:
    with pytest.raises(InvalidInput, match="Ebb-Timeout-Ms must be a non-negative integer"):
        count_header("Ebb-Timeout-Ms", value)


def test_numeric_headers_parse() -> None:
    assert count_header("X", b"0") == 0
    assert count_header("X", b"9" * 18) == 10**18 - 1


def test_the_budget_admits_one_request_of_any_size_and_bounds_the_rest() -> None:
    budget = MemoryBudget(100)
    big = budget.reserve(500)  # alone: admitted whatever its size
    with pytest.raises(Unavailable, match="max-inflight-request-mb"):
        budget.reserve(1)
    big.release()
    first = budget.reserve(60)
    second = budget.reserve(40)
    with pytest.raises(Unavailable):
        budget.reserve(1)
    first.shrink_to(10)
    third = budget.reserve(50)
    with pytest.raises(Unavailable):
        third.grow(1)
    second.release()
    third.grow(30)
    first.release()
    third.release()
    assert budget.held == 0 and budget.refused == 3


def test_client_errors_are_logged_once_per_interval_per_kind(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    errors = ClientErrorLog(logging.getLogger("test.client_errors"), 10.0, lambda: now[0])
    with caplog.at_level(logging.WARNING, "test.client_errors"):
        assert errors.note("bad", "first")
        assert not any(errors.note("bad", "again") for _ in range(999))
        assert errors.note("other", "a different kind")
        now[0] = 10.0
        assert errors.note("bad", "later")
    lines = [record.getMessage() for record in caplog.records]
    assert lines == ["client error (bad): first", "client error (other): a different kind",
                     "client error (bad): later (1000 since the last line)"]
    assert all(record.exc_info is None for record in caplog.records)
