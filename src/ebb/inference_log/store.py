"""The two real ``LogStore``s: SQLite (embedded, WAL) and PostgreSQL (psycopg 3, COPY).

The only module that imports a database driver. psycopg is imported when a PostgreSQL store
connects, so a server logging to SQLite (or not at all) never loads it.

Row ids are taken before the insert, so that tensors can point at their request while both are
written in bulk: SQLite takes them under its write lock (``BEGIN IMMEDIATE``), PostgreSQL from
the table's identity sequence; both are safe with several servers writing to one database.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from ebb.inference_log.base import LogStore, StoreUnavailable
from ebb.inference_log.queries import (
    REQUEST_COLUMNS,
    TENSOR_COLUMNS,
    Dialect,
    LogEntry,
    LogFilter,
    prune_statements,
    select_entries,
    version_statements,
)
from ebb.inference_log.rows import RequestRow
from ebb.inference_log.schema import BOOTSTRAP, RECORD_MIGRATION, pending
from ebb.inference_log.url import DatabaseUrl

CONNECT_TIMEOUT_S = 5
MIGRATION_LOCK = 0x6562622D6C6F67  # "ebb-log": one server migrates at a time (PostgreSQL)

VersionKey = tuple[str, str]


def open_store(url: DatabaseUrl) -> LogStore:
    """The store for a checked URL (not connected yet)."""
    if url.engine == "sqlite":
        return SqliteStore(url.target)
    return PostgresStore(url.target)


def _request_values(rows: Sequence[RequestRow], ids: Sequence[int],
                   versions: dict[VersionKey, int]) -> list[tuple[object, ...]]:
    """Parameters in ``REQUEST_COLUMNS`` order: a row's fields 2-10 follow the two ids."""
    return [(request_id, versions[row[0], row[1]], *row[2:11])
            for request_id, row in zip(ids, rows, strict=True)]


def _tensor_values(rows: Sequence[RequestRow], ids: Sequence[int]
                   ) -> list[tuple[object, ...]]:
    return [(request_id, *tensor) for request_id, row in zip(ids, rows, strict=True)
            for tensor in row.tensors]


class SqliteStore:
    """One connection, used from one worker thread at a time (``asyncio.to_thread``)."""

    dialect = Dialect("sqlite")

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._versions: dict[VersionKey, int] = {}

    async def connect(self) -> None:
        await asyncio.to_thread(self._connect)

    async def write(self, rows: Sequence[RequestRow]) -> None:
        await asyncio.to_thread(self._write, rows)

    async def prune(self, before: float) -> int:
        return await asyncio.to_thread(self._prune, before)

    async def query(self, where: LogFilter) -> list[LogEntry]:
        sql, params = select_entries(self.dialect, where)
        db = self._connected()

        def select() -> list[Any]:
            with self._errors():
                return db.execute(sql, params).fetchall()

        return [LogEntry(*row) for row in await asyncio.to_thread(select)]

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await asyncio.to_thread(db.close)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as error:
            raise StoreUnavailable(f"SQLite {self.path}: {error}") from error

    def _connected(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreUnavailable(f"SQLite {self.path}: not connected")
        return self._db

    def _connect(self) -> None:
        with self._errors():
            db = sqlite3.connect(self.path, timeout=CONNECT_TIMEOUT_S, isolation_level=None,
                                 check_same_thread=False)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                self._migrate(db)
            except BaseException:
                db.close()
                raise
        self._db, self._versions = db, {}

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute(BOOTSTRAP["sqlite"])
        with self._transaction(db):
            applied = {version for (version,) in db.execute("SELECT version FROM "
                                                            "schema_migrations")}
            for migration in pending(applied):
                for statement in migration.statements["sqlite"]:
                    db.execute(statement)
                db.execute(RECORD_MIGRATION["sqlite"], (migration.version, migration.name))

    @contextmanager
    def _transaction(self, db: sqlite3.Connection) -> Iterator[None]:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if db.in_transaction:
                db.rollback()
            raise
        db.execute("COMMIT")

    def _write(self, rows: Sequence[RequestRow]) -> None:
        db = self._connected()
        with self._errors():
            with self._transaction(db):
                found = self._version_ids(db, {(row.model, row.version) for row in rows})
                (first,) = db.execute("SELECT coalesce(max(id), 0) + 1 FROM requests").fetchone()
                ids = range(first, first + len(rows))
                db.executemany(self.dialect.insert("requests", REQUEST_COLUMNS),
                               _request_values(rows, ids, found))
                db.executemany(self.dialect.insert("tensors", TENSOR_COLUMNS),
                               _tensor_values(rows, ids))
            self._versions.update(found)

    def _version_ids(self, db: sqlite3.Connection, keys: set[VersionKey]
                     ) -> dict[VersionKey, int]:
        add_model, model_id, add_version, version_id = version_statements(self.dialect)
        found = {key: self._versions[key] for key in keys if key in self._versions}
        for model, version in keys - found.keys():
            db.execute(add_model, (model,))
            (model_key,) = db.execute(model_id, (model,)).fetchone()
            db.execute(add_version, (model_key, version))
            (found[(model, version)],) = db.execute(version_id, (model_key, version)).fetchone()
        return found

    def _prune(self, before: float) -> int:
        db = self._connected()
        tensors, requests = prune_statements(self.dialect)
        with self._errors(), self._transaction(db):
            db.execute(tensors, (before,))
            return db.execute(requests, (before,)).rowcount


class PostgresStore:
    """One connection (the writer is one sequential loop), with COPY for the bulk inserts."""

    dialect = Dialect("postgresql")

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._conn: Any = None
        self._versions: dict[VersionKey, int] = {}

    @contextmanager
    def _errors(self) -> Iterator[None]:
        import psycopg

        try:
            yield
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            raise StoreUnavailable(f"PostgreSQL: {str(error).strip()}") from error

    async def connect(self) -> None:
        import psycopg

        with self._errors():
            conn = await psycopg.AsyncConnection.connect(
                self.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                application_name="ebb-inference-log")
            try:
                await self._migrate(conn)
            except BaseException:
                await conn.close()
                raise
        self._conn, self._versions = conn, {}

    async def _migrate(self, conn: Any) -> None:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            await conn.execute(BOOTSTRAP["postgresql"])
            cursor = await conn.execute("SELECT version FROM schema_migrations")
            applied = {version for (version,) in await cursor.fetchall()}
            for migration in pending(applied):
                for statement in migration.statements["postgresql"]:
                    await conn.execute(statement)
                await conn.execute(RECORD_MIGRATION["postgresql"],
                                   (migration.version, migration.name))

    def _connected(self) -> Any:
        if self._conn is None or self._conn.closed:
            raise StoreUnavailable("PostgreSQL: not connected")
        return self._conn

    async def write(self, rows: Sequence[RequestRow]) -> None:
        conn = self._connected()
        with self._errors():
            async with conn.transaction():
                found = await self._version_ids(conn, {(row.model, row.version) for row in rows})
                cursor = await conn.execute(
                    "SELECT nextval(pg_get_serial_sequence('requests', 'id')) "
                    "FROM generate_series(1, %s)", (len(rows),))
                ids = [request_id for (request_id,) in await cursor.fetchall()]
                await self._copy(cursor, "requests", REQUEST_COLUMNS, [
                    (*values[:3], datetime.fromtimestamp(row.received_at, UTC), *values[4:])
                    for values, row in zip(_request_values(rows, ids, found), rows,
                                           strict=True)])
                await self._copy(cursor, "tensors", TENSOR_COLUMNS, _tensor_values(rows, ids))
            self._versions.update(found)

    @staticmethod
    async def _copy(cursor: Any, table: str, columns: tuple[str, ...],
                    values: list[tuple[object, ...]]) -> None:
        async with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in values:
                await copy.write_row(row)

    async def _version_ids(self, conn: Any, keys: set[VersionKey]) -> dict[VersionKey, int]:
        add_model, model_id, add_version, version_id = version_statements(self.dialect)
        found = {key: self._versions[key] for key in keys if key in self._versions}
        for model, version in keys - found.keys():
            await conn.execute(add_model, (model,))
            (model_key,) = await (await conn.execute(model_id, (model,))).fetchone()
            await conn.execute(add_version, (model_key, version))
            cursor = await conn.execute(version_id, (model_key, version))
            (found[(model, version)],) = await cursor.fetchone()
        return found

    async def prune(self, before: float) -> int:
        conn = self._connected()
        tensors, requests = prune_statements(self.dialect)
        with self._errors():
            async with conn.transaction():
                await conn.execute(tensors, (before,))
                cursor = await conn.execute(requests, (before,))
                return int(cursor.rowcount)

    async def query(self, where: LogFilter) -> list[LogEntry]:
        sql, params = select_entries(self.dialect, where)
        with self._errors():
            cursor = await self._connected().execute(sql, params)
            return [LogEntry(*row) for row in await cursor.fetchall()]

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with self._errors():
                await conn.close()
