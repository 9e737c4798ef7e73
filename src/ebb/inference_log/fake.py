"""``MemoryStore``: the ``LogStore`` seam in memory, for tests of the writer and the commands.

``available = False`` makes every call raise ``StoreUnavailable``, as a stopped database would.
"""

from __future__ import annotations

from collections.abc import Sequence

from ebb.inference_log.base import StoreUnavailable
from ebb.inference_log.queries import LogEntry, LogFilter
from ebb.inference_log.rows import RequestRow


class MemoryStore:
    def __init__(self) -> None:
        self.rows: list[RequestRow] = []
        self.available = True
        self.connected = False
        self.connects = 0
        self.writes = 0

    def _check(self) -> None:
        if not self.available:
            self.connected = False
            raise StoreUnavailable("the in-memory store is marked unavailable")

    async def connect(self) -> None:
        self._check()
        self.connected = True
        self.connects += 1

    async def write(self, rows: Sequence[RequestRow]) -> None:
        self._check()
        if not self.connected:
            raise StoreUnavailable("not connected")
        self.rows.extend(rows)
        self.writes += 1

    async def prune(self, before: float) -> int:
        self._check()
        kept = [row for row in self.rows if row.received_at >= before]
        pruned = len(self.rows) - len(kept)
        self.rows = kept
        return pruned

    async def query(self, where: LogFilter) -> list[LogEntry]:
        self._check()
        entries = [_entry(row) for row in self.rows if _matches(row, where)]
        entries.sort(key=lambda entry: entry.received_at, reverse=where.newest_first)
        return entries[:where.limit] if where.limit is not None else entries

    async def close(self) -> None:
        self.connected = False


def _matches(row: RequestRow, where: LogFilter) -> bool:
    if row.received_at < where.since or (where.model is not None and row.model != where.model):
        return False
    return where.status is None or where.status[0] <= row.status <= where.status[1]


def _entry(row: RequestRow) -> LogEntry:
    return LogEntry(row.received_at, row.client_request_id, row.model, row.version, row.status,
                    row.latency_s, row.queue_wait_s, row.inference_s, row.batch_size, row.error,
                    row.protocol or None, row.api_key_id)
