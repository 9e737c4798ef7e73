"""The log's schema, as ordered numbered migrations; applied at start-up, each exactly once.

Third normal form: a model's name lives in ``models`` once, a version in ``model_versions`` once,
a protocol's name in ``protocols`` once, and a request signature (its tensors' names, datatypes
and shapes) in ``signatures`` and ``signature_tensors`` once; each request points at its version,
protocol and signature, and each ``tensor_data`` row (digests or payloads, ``hash`` and ``full``
capture only) at its request. ``answered_at`` is not stored (it is ``received_at + latency_s``);
the views ``request_log`` and ``tensors`` join names in and derive it, for people writing SQL by
hand.

Times are ``TIMESTAMPTZ`` in PostgreSQL and Unix seconds (``REAL``) in SQLite, which has no time
type; ``ebb.inference_log.queries`` hides the difference.

Never edit a migration that has shipped: append a new one.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from ebb.inference_log.url import Engine

BOOTSTRAP: dict[Engine, str] = {
    "sqlite": "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
              "name TEXT NOT NULL, applied_at REAL NOT NULL "
              "DEFAULT ((julianday('now') - 2440587.5) * 86400.0))",
    "postgresql": "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                  "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
}
"""The one table that exists before any migration: which migrations ran."""

RECORD_MIGRATION: dict[Engine, str] = {
    "sqlite": "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
    "postgresql": "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
}


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: dict[Engine, tuple[str, ...]]


def _tables(key: str, time: str, real: str, blob: str, tensors_suffix: str
            ) -> tuple[str, ...]:
    """The tables; SQLite clusters tensors on their key (one B-tree instead of two)."""
    return (
        f"CREATE TABLE models (id {key}, name TEXT NOT NULL UNIQUE)",
        f"CREATE TABLE model_versions (id {key}, "
        "model_id BIGINT NOT NULL REFERENCES models (id), version TEXT NOT NULL, "
        "UNIQUE (model_id, version))",
        f"CREATE TABLE requests (id {key}, client_request_id TEXT, "
        "model_version_id BIGINT NOT NULL REFERENCES model_versions (id), "
        f"received_at {time} NOT NULL, status INTEGER NOT NULL, latency_s {real} NOT NULL, "
        f"queue_wait_s {real} NOT NULL, inference_s {real} NOT NULL, "
        "batch_size INTEGER NOT NULL, error TEXT, api_key_id TEXT)",
        "CREATE TABLE tensors (request_id BIGINT NOT NULL REFERENCES requests (id), "
        "direction TEXT NOT NULL CHECK (direction IN ('in', 'out')), "
        "position INTEGER NOT NULL, name TEXT NOT NULL, datatype TEXT NOT NULL, "
        f"shape TEXT NOT NULL, digest {blob}, payload {blob}, "
        f"PRIMARY KEY (request_id, direction, position)){tensors_suffix}",
        "CREATE INDEX requests_by_time ON requests (received_at)",
        "CREATE INDEX requests_by_version_time ON requests (model_version_id, received_at)",
        "CREATE INDEX requests_by_status_time ON requests (status, received_at)",
    )


def _view(answered_at: str) -> str:
    return ("CREATE VIEW request_log AS SELECT r.id, r.client_request_id, m.name AS model, "
            f"v.version, r.received_at, {answered_at} AS answered_at, r.status, r.latency_s, "
            "r.queue_wait_s, r.inference_s, r.batch_size, r.error, r.api_key_id "
            "FROM requests r JOIN model_versions v ON v.id = r.model_version_id "
            "JOIN models m ON m.id = v.model_id")


def _signature_tables(key: str, blob: str, suffix: str) -> tuple[str, ...]:
    """Migration 2's tables and columns: protocols, deduplicated signatures, payload rows."""
    direction = "direction TEXT NOT NULL CHECK (direction IN ('in', 'out'))"
    return (
        f"CREATE TABLE protocols (id {key}, name TEXT NOT NULL UNIQUE)",
        "INSERT INTO protocols (name) VALUES ('rest'), ('rest_v1'), ('grpc')",
        f"CREATE TABLE signatures (id {key}, spec TEXT NOT NULL UNIQUE)",
        "CREATE TABLE signature_tensors ("
        f"signature_id BIGINT NOT NULL REFERENCES signatures (id), {direction}, "
        "position INTEGER NOT NULL, name TEXT NOT NULL, datatype TEXT NOT NULL, "
        f"shape TEXT NOT NULL, PRIMARY KEY (signature_id, direction, position)){suffix}",
        "CREATE TABLE tensor_data (request_id BIGINT NOT NULL REFERENCES requests (id), "
        f"{direction}, position INTEGER NOT NULL, digest {blob}, payload {blob}, "
        f"PRIMARY KEY (request_id, direction, position)){suffix}",
        "ALTER TABLE requests ADD COLUMN protocol_id BIGINT REFERENCES protocols (id)",
        "ALTER TABLE requests ADD COLUMN signature_id BIGINT REFERENCES signatures (id)",
    )


def _move_tensors(request_specs: str) -> tuple[str, ...]:
    """Migration 2's data: each request's tensor rows become a shared signature (its ``spec``
    built as ``rows.signature_key`` builds it) plus ``tensor_data`` rows where they held a
    digest or payload; then ``tensors`` becomes a view of the same columns."""
    return (
        f"CREATE TEMPORARY TABLE request_specs AS {request_specs}",
        "INSERT INTO signatures (spec) SELECT DISTINCT spec FROM request_specs",
        "UPDATE requests SET signature_id = (SELECT s.id FROM request_specs k "
        "JOIN signatures s ON s.spec = k.spec WHERE k.request_id = requests.id)",
        "INSERT INTO signature_tensors (signature_id, direction, position, name, datatype, "
        "shape) SELECT s.id, t.direction, t.position, t.name, t.datatype, t.shape "
        "FROM signatures s JOIN (SELECT spec, min(request_id) AS request_id "
        "FROM request_specs GROUP BY spec) one ON one.spec = s.spec "
        "JOIN tensors t ON t.request_id = one.request_id",
        "INSERT INTO tensor_data (request_id, direction, position, digest, payload) "
        "SELECT request_id, direction, position, digest, payload FROM tensors "
        "WHERE digest IS NOT NULL OR payload IS NOT NULL",
        "DROP TABLE request_specs",
        "DROP VIEW request_log",
        "DROP TABLE tensors",
        "CREATE VIEW tensors AS SELECT r.id AS request_id, s.direction, s.position, s.name, "
        "s.datatype, s.shape, d.digest, d.payload FROM requests r "
        "JOIN signature_tensors s ON s.signature_id = r.signature_id "
        "LEFT JOIN tensor_data d ON d.request_id = r.id AND d.direction = s.direction "
        "AND d.position = s.position",
    )


def _view_2(answered_at: str) -> str:
    return ("CREATE VIEW request_log AS SELECT r.id, r.client_request_id, m.name AS model, "
            f"v.version, r.received_at, {answered_at} AS answered_at, p.name AS protocol, "
            "r.status, r.latency_s, r.queue_wait_s, r.inference_s, r.batch_size, r.error, "
            "r.api_key_id, r.signature_id "
            "FROM requests r JOIN model_versions v ON v.id = r.model_version_id "
            "JOIN models m ON m.id = v.model_id LEFT JOIN protocols p ON p.id = r.protocol_id")


_DROP_INDEXES = ("DROP INDEX IF EXISTS requests_by_version_time",
                 "DROP INDEX IF EXISTS requests_by_status_time")
"""Migration 3: every query and the pruning filter on ``received_at`` first (``ebb log query``
always has ``--since``), so the time index serves them, scanning the window for the model or
the status; the two composite indexes cost a B-tree insert each per logged request (about a
third of SQLite's insert time) for queries that were fast anyway."""
_SPEC_PART = ("direction || '|' || position || '|' || datatype || '|' || shape || '|' || "
              "length(name) || '|' || name")
_PG_KEY = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
_PG_ANSWERED = "r.received_at + r.latency_s * interval '1 second'"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "requests, models, versions and tensors", {
        "sqlite": (*_tables("INTEGER PRIMARY KEY", "REAL", "REAL", "BLOB",
                           " WITHOUT ROWID"),
                   _view("r.received_at + r.latency_s")),
        "postgresql": (*_tables(_PG_KEY, "TIMESTAMPTZ", "DOUBLE PRECISION", "BYTEA", ""),
                       _view(_PG_ANSWERED)),
    }),
    Migration(2, "protocols, api keys, deduplicated signatures, tensor_data", {
        "sqlite": (*_signature_tables("INTEGER PRIMARY KEY", "BLOB", " WITHOUT ROWID"),
                   *_move_tensors(
                       "SELECT request_id, group_concat(part, char(10)) AS spec FROM ("
                       f"SELECT request_id, {_SPEC_PART} AS part FROM tensors "
                       "ORDER BY request_id, direction, position) GROUP BY request_id"),
                   _view_2("r.received_at + r.latency_s")),
        "postgresql": (*_signature_tables(_PG_KEY, "BYTEA", ""),
                       *_move_tensors(
                           f"SELECT request_id, string_agg({_SPEC_PART}, chr(10) "
                           "ORDER BY direction, position) AS spec FROM tensors "
                           "GROUP BY request_id"),
                       _view_2(_PG_ANSWERED)),
    }),
    Migration(3, "one index on requests: received_at", {
        "sqlite": _DROP_INDEXES, "postgresql": _DROP_INDEXES,
    }),
)


def pending(applied: Collection[int], migrations: tuple[Migration, ...] = MIGRATIONS
            ) -> list[Migration]:
    """The migrations still to run, in order. A database newer than this code is an error:
    writing into a schema we do not know could corrupt it."""
    known = {migration.version for migration in migrations}
    unknown = sorted(set(applied) - known)
    if unknown:
        raise ValueError(f"the inference log database has schema version(s) {unknown} that "
                         "this Ebb does not know; upgrade Ebb")
    return [migration for migration in sorted(migrations, key=lambda m: m.version)
            if migration.version not in applied]
