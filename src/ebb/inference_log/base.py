"""The seam between the writer and a database: ``LogStore``, one small async Protocol.

Implementations: ``SqliteStore`` and ``PostgresStore`` in ``ebb.inference_log.store`` (the only
module that imports a database driver) and ``MemoryStore`` in ``ebb.inference_log.fake``.

Errors::

    Exception
     └── StoreUnavailable   the database cannot be reached or is busy: keep the rows, reconnect
                            later; any other exception means these rows were refused
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ebb.inference_log.queries import LogEntry, LogFilter
from ebb.inference_log.rows import RequestRow


class StoreUnavailable(Exception):
    """The database is out of reach (down, restarting, locked); the same write may succeed later."""


class LogStore(Protocol):
    async def connect(self) -> None:
        """Make the store usable: open it if needed, bring the schema up to date (migrations
        run once each), and raise ``StoreUnavailable`` when the database cannot be reached.
        Called again after a ``StoreUnavailable``, to find out whether it is back."""

    async def write(self, rows: Sequence[RequestRow]) -> None:
        """Insert requests and their tensors in one transaction: all of them or none."""

    async def prune(self, before: float) -> int:
        """Delete requests received before a Unix time (and their tensors); returns how many."""

    async def query(self, where: LogFilter) -> list[LogEntry]: ...

    async def close(self) -> None:
        """Close the connection (or pool), for good; safe to call when closed or broken."""
