"""The SQL the log runs besides its schema, built per engine: pure text and parameters.

The two engines differ in parameter marks (``?`` and ``%s``) and in time (Unix seconds in SQLite,
``TIMESTAMPTZ`` in PostgreSQL); a ``Dialect`` hides both, so every statement is written once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ebb.inference_log.url import Engine

REQUEST_COLUMNS = ("model_version_id", "client_request_id", "received_at", "status",
                   "latency_s", "queue_wait_s", "inference_s", "batch_size", "error",
                   "api_key_id", "protocol_id", "signature_id")
"""After ``id``: ``RequestRow`` fields 2 to 10 between the version and the protocol."""
PAYLOAD_COLUMNS = ("request_id", "direction", "position", "digest", "payload")
SIGNATURE_COLUMNS = ("signature_id", "direction", "position", "name", "datatype", "shape")
ENTRY_COLUMNS = ("received_at", "request_id", "model", "version", "status", "latency_s",
                 "queue_wait_s", "inference_s", "batch_size", "error", "protocol", "api_key_id")

_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_STATUS = re.compile(r"^\s*([1-5])(xx|\d\d)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Dialect:
    engine: Engine

    @property
    def mark(self) -> str:
        return "?" if self.engine == "sqlite" else "%s"

    @property
    def time_mark(self) -> str:
        """Where a Unix-seconds parameter is compared with a stored time."""
        return "?" if self.engine == "sqlite" else "to_timestamp(%s)"

    def seconds(self, column: str) -> str:
        """A stored time read back as Unix seconds."""
        return column if self.engine == "sqlite" else f"extract(epoch from {column})::float8"

    def insert(self, table: str, columns: tuple[str, ...], rows: int = 1) -> str:
        """An INSERT of ``rows`` rows: several per statement spare SQLite a statement step and
        reset per row (about a third of its insert time for a small row)."""
        marks = f"({', '.join(self.mark for _ in columns)})"
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([marks] * rows)}"


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which requests ``ebb log query`` and ``export`` read."""

    since: float
    """Unix seconds: requests received at or after."""
    model: str | None = None
    status: tuple[int, int] | None = None
    """Inclusive range of HTTP statuses."""
    limit: int | None = None
    newest_first: bool = True


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One request as the commands show it (names joined in, times as Unix seconds)."""

    received_at: float
    request_id: str | None
    model: str
    version: str
    status: int
    latency_s: float
    queue_wait_s: float
    inference_s: float
    batch_size: int
    error: str | None
    protocol: str | None
    """"rest", "rest_v1" or "grpc"; None for rows logged before Ebb recorded it."""
    api_key_id: str | None


def parse_since(text: str) -> float:
    """Seconds in ``30s``, ``15m``, ``1h``, ``7d`` or ``2w``; ValueError otherwise."""
    match = _SINCE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 30s, 15m, 1h, 7d or 2w")
    return float(match.group(1)) * _SECONDS[match.group(2)]


def parse_status(text: str) -> tuple[int, int]:
    """``5xx`` -> (500, 599), ``200`` -> (200, 200); ValueError otherwise."""
    match = _STATUS.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a status like 200, 404, 4xx or 5xx")
    hundreds, rest = int(match.group(1)) * 100, match.group(2).lower()
    if rest == "xx":
        return hundreds, hundreds + 99
    return hundreds + int(rest), hundreds + int(rest)


def select_entries(dialect: Dialect, where: LogFilter) -> tuple[str, list[object]]:
    """The query behind ``ebb log query`` and ``export``, with its parameters."""
    mark = dialect.mark
    clauses = [f"r.received_at >= {dialect.time_mark}"]
    params: list[object] = [where.since]
    if where.model is not None:
        clauses.append(f"m.name = {mark}")
        params.append(where.model)
    if where.status is not None:
        clauses.append(f"r.status BETWEEN {mark} AND {mark}")
        params += where.status
    sql = (f"SELECT {dialect.seconds('r.received_at')}, r.client_request_id, m.name, v.version, "
           "r.status, r.latency_s, r.queue_wait_s, r.inference_s, r.batch_size, r.error, "
           "p.name, r.api_key_id "
           "FROM requests r JOIN model_versions v ON v.id = r.model_version_id "
           "JOIN models m ON m.id = v.model_id LEFT JOIN protocols p ON p.id = r.protocol_id "
           f"WHERE {' AND '.join(clauses)} "
           f"ORDER BY r.received_at {'DESC' if where.newest_first else 'ASC'}, r.id")
    if where.limit is not None:
        sql += f" LIMIT {mark}"
        params.append(where.limit)
    return sql, params


def prune_statements(dialect: Dialect) -> tuple[str, str]:
    """Delete the payloads, then the requests, received before a Unix time (one parameter).
    Signatures stay: few, shared, and likely to come back."""
    old = f"SELECT id FROM requests WHERE received_at < {dialect.time_mark}"
    return (f"DELETE FROM tensor_data WHERE request_id IN ({old})",
            f"DELETE FROM requests WHERE received_at < {dialect.time_mark}")


def version_statements(dialect: Dialect) -> tuple[str, str, str, str]:
    """Add a model and a version if new, then read their ids (ON CONFLICT works in both)."""
    mark = dialect.mark
    return (f"INSERT INTO models (name) VALUES ({mark}) ON CONFLICT (name) DO NOTHING",
            f"SELECT id FROM models WHERE name = {mark}",
            f"INSERT INTO model_versions (model_id, version) VALUES ({mark}, {mark}) "
            "ON CONFLICT (model_id, version) DO NOTHING",
            f"SELECT id FROM model_versions WHERE model_id = {mark} AND version = {mark}")


def name_statements(dialect: Dialect, table: str, column: str) -> tuple[str, str]:
    """Add a row to a lookup table (``protocols``, ``signatures``) if new, then read its id."""
    mark = dialect.mark
    return (f"INSERT INTO {table} ({column}) VALUES ({mark}) ON CONFLICT ({column}) DO NOTHING",
            f"SELECT id FROM {table} WHERE {column} = {mark}")
