"""Binary COPY data for request rows, decoded here by hand against the format's spec (the store
tests send it to a real PostgreSQL and read it back)."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import numpy as np

from ebb.inference_log.copy_rows import NULL, SIGNATURE, TRAILER, microseconds, request_block

ROW = (7, "r\t1é", 1_796_058_405.976_488, 200, 0.004, np.float64(0.001), 0.002, np.int64(3),
       None, "ci", None, 9)
_MICROSECOND = datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - datetime(2000, 1, 1, tzinfo=UTC)


def _fields(data: bytes) -> list[list[bytes | None]]:
    assert data.startswith(SIGNATURE) and data.endswith(TRAILER)
    rows, at = [], len(SIGNATURE)
    while at < len(data) - len(TRAILER):
        (count,), at = struct.unpack_from(">h", data, at), at + 2
        fields: list[bytes | None] = []
        for _ in range(count):
            (length,), at = struct.unpack_from(">i", data, at), at + 4
            fields.append(None if length == -1 else data[at:at + length])
            at += max(length, 0)
        rows.append(fields)
    return rows


def test_each_column_has_its_binary_wire_value() -> None:
    (fields,) = _fields(request_block([ROW], with_id=False))
    assert len(fields) == 12
    version, client_id, received, status, latency, wait, inference, size = fields[:8]
    assert struct.unpack(">q", version or b"") == (7,)
    assert client_id == "r\t1é".encode()
    expected = datetime.fromtimestamp(ROW[2], UTC) - datetime(2000, 1, 1, tzinfo=UTC)
    assert struct.unpack(">q", received or b"") == (expected // _MICROSECOND,)
    assert struct.unpack(">i", status or b"") == (200,)
    assert [struct.unpack(">d", value or b"")[0] for value in (latency, wait, inference)] == [
        0.004, 0.001, 0.002]
    assert struct.unpack(">i", size or b"") == (3,)
    assert fields[8:11] == [None, b"ci", None]
    assert struct.unpack(">q", fields[11] or b"") == (9,)



def test_rows_with_ids_and_an_empty_batch() -> None:
    rows = _fields(request_block([(41, *ROW), (42, *ROW)], with_id=True))
    assert [struct.unpack(">q", row[0] or b"")[0] for row in rows] == [41, 42]
    assert all(len(row) == 13 for row in rows)
    assert request_block([], with_id=False) == SIGNATURE + TRAILER
    assert struct.pack(">i", -1) == NULL


def test_microseconds_round_to_the_nearest() -> None:
    assert microseconds(946_684_800.0) == 0
    assert microseconds(946_684_800.000_000_6) == 1
    assert microseconds(0.0) == -946_684_800_000_000
