"""One log line per kind of client mistake per interval, with a count, never a traceback each.

A client sending garbage in a loop must not fill the disk or drown real errors, yet an operator
should see that it happens::

    client_errors = ClientErrorLog(logging.getLogger("ebb.grpc"), 10.0, time.monotonic)
    client_errors.note("malformed protobuf", "ModelInfer: Error parsing message")
    # WARNING client error (malformed protobuf): ModelInfer: Error parsing message
    # ... ten seconds and 4,999 more later:
    # WARNING client error (malformed protobuf): ... (5000 since the last line)
"""

from __future__ import annotations

import logging
from collections.abc import Callable


class ClientErrorLog:
    """Rate-limits warnings per kind; ``now`` is the clock (seconds, monotonic)."""

    __slots__ = ("_interval_s", "_last", "_log", "_now", "_unlogged")

    def __init__(self, log: logging.Logger, interval_s: float, now: Callable[[], float]) -> None:
        self._log = log
        self._interval_s = interval_s
        self._now = now
        self._last: dict[str, float] = {}
        self._unlogged: dict[str, int] = {}

    def note(self, kind: str, detail: str) -> bool:
        """Count one mistake of ``kind``; log it when the kind's last line is old enough.
        Returns whether a line was written."""
        now = self._now()
        last = self._last.get(kind)
        if last is not None and now - last < self._interval_s:
            self._unlogged[kind] = self._unlogged.get(kind, 0) + 1
            return False
        self._last[kind] = now
        since = self._unlogged.pop(kind, 0)
        if since:
            self._log.warning("client error (%s): %s (%d since the last line)", kind,
                              detail[:200], since + 1)
        else:
            self._log.warning("client error (%s): %s", kind, detail[:200])
        return True
