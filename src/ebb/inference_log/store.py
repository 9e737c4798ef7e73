"""The two real ``LogStore``s: SQLite (embedded, WAL) and PostgreSQL (psycopg 3 pool, COPY).

The only module that imports a database driver. psycopg is imported when a PostgreSQL store
connects, so a server logging to SQLite (or not at all) never loads it.

A batch is one transaction. Names (version, protocol, signature) come from the store's ``Ids``
cache, so a batch of known names is one bulk insert of request rows, plus one of payload rows in
``hash``/``full`` capture; only then are request ids taken before the insert (SQLite under its
write lock, ``BEGIN IMMEDIATE``; PostgreSQL from the identity sequence), so that the payloads
can point at their request. Both are safe with several servers writing to one database.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any

from ebb.inference_log.backoff import MAX_DELAY_S
from ebb.inference_log.base import LogStore, StoreUnavailable
from ebb.inference_log.batches import (
    Ids,
    Values,
    VersionKey,
    has_payloads,
    payload_values,
    request_values,
    with_ids,
)
from ebb.inference_log.copy_rows import request_block
from ebb.inference_log.queries import (
    PAYLOAD_COLUMNS,
    REQUEST_COLUMNS,
    SIGNATURE_COLUMNS,
    Dialect,
    LogEntry,
    LogFilter,
    name_statements,
    prune_statements,
    select_entries,
    version_statements,
)
from ebb.inference_log.rows import RequestRow, Signature, signature_key, signature_rows
from ebb.inference_log.schema import BOOTSTRAP, RECORD_MIGRATION, pending
from ebb.inference_log.url import DatabaseUrl

CONNECT_TIMEOUT_S = 5
CHECKOUT_TIMEOUT_S = 1.0
"""How long a write waits for a pooled connection: short, so that the writer's own backoff
(``ebb.inference_log.backoff``), not the pool, paces the retries during an outage."""
MIGRATION_LOCK = 0x6562622D6C6F67  # "ebb-log": one server migrates at a time (PostgreSQL)
SQLITE = Dialect("sqlite")
POSTGRESQL = Dialect("postgresql")


def open_store(url: DatabaseUrl) -> LogStore:
    """The store for a checked URL (not connected yet)."""
    if url.engine == "sqlite":
        return SqliteStore(url.target)
    return PostgresStore(url.target)


class SqliteStore:
    """One connection, used from one worker thread at a time (``asyncio.to_thread``); closed
    when SQLite reports a failure (a lock held too long), reopened by the next ``connect``."""

    dialect = SQLITE

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._ids = Ids()

    async def connect(self) -> None:
        if self._db is None:
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
            if self._db is not None:
                db, self._db = self._db, None
                db.close()
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
        self._db, self._ids = db, Ids()

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
                ids = self._ids
                values = request_values(rows, ids)
                if values is None:
                    ids = self._resolve(db, rows)
                    values = request_values(rows, ids)
                    assert values is not None
                if has_payloads(rows):
                    (first,) = db.execute("SELECT coalesce(max(id), 0) + 1 FROM requests"
                                          ).fetchone()
                    request_ids = range(first, first + len(rows))
                    _sqlite_insert(db, "requests", ("id", *REQUEST_COLUMNS),
                                   with_ids(values, request_ids))
                    db.executemany(self.dialect.insert("tensor_data", PAYLOAD_COLUMNS),
                                   payload_values(rows, request_ids))
                else:
                    _sqlite_insert(db, "requests", REQUEST_COLUMNS, values)
            self._ids = ids

    def _resolve(self, db: sqlite3.Connection, rows: Sequence[RequestRow]) -> Ids:
        """The ids of the rows' new names, looked up or added (inside the transaction)."""
        versions, protocols, signatures = self._ids.missing(rows)
        add_model, model_id, add_version, version_id = version_statements(self.dialect)
        found_versions: dict[VersionKey, int] = {}
        for model, version in versions:
            db.execute(add_model, (model,))
            (model_key,) = db.execute(model_id, (model,)).fetchone()
            db.execute(add_version, (model_key, version))
            (found_versions[model, version],) = db.execute(
                version_id, (model_key, version)).fetchone()
        add, select = name_statements(self.dialect, "protocols", "name")
        found_protocols: dict[str, int | None] = {}
        for name in protocols:
            db.execute(add, (name,))
            (found_protocols[name],) = db.execute(select, (name,)).fetchone()
        return self._ids.extended(found_versions, found_protocols,
                                  {signature: self._signature_id(db, signature)
                                   for signature in signatures})

    def _signature_id(self, db: sqlite3.Connection, signature: Signature) -> int:
        add, select = name_statements(self.dialect, "signatures", "spec")
        spec = signature_key(signature)
        added = db.execute(add, (spec,)).rowcount
        (signature_id,) = db.execute(select, (spec,)).fetchone()
        if added:
            db.executemany(self.dialect.insert("signature_tensors", SIGNATURE_COLUMNS),
                           [(signature_id, *row) for row in signature_rows(signature)])
        return int(signature_id)

    def _prune(self, before: float) -> int:
        db = self._connected()
        payloads, requests = prune_statements(self.dialect)
        with self._errors(), self._transaction(db):
            db.execute(payloads, (before,))
            return db.execute(requests, (before,)).rowcount


ROWS_PER_INSERT = 100
"""Rows per SQLite INSERT statement (12 or 13 parameters each: far below SQLite's limit)."""


def _sqlite_insert(db: sqlite3.Connection, table: str, columns: tuple[str, ...],
                   values: Sequence[Values]) -> None:
    """Insert rows ``ROWS_PER_INSERT`` to a statement (the statement text is the same each
    time, so sqlite3 caches it compiled), the remainder one by one."""
    whole = len(values) - len(values) % ROWS_PER_INSERT
    if whole:
        statement = SQLITE.insert(table, columns, ROWS_PER_INSERT)
        for start in range(0, whole, ROWS_PER_INSERT):
            db.execute(statement, list(chain.from_iterable(values[start:start + ROWS_PER_INSERT])))
    if whole < len(values):
        db.executemany(SQLITE.insert(table, columns), values[whole:])


class PostgresStore:
    """A ``psycopg_pool`` pool of one connection (the writer is one sequential loop), with COPY
    for the bulk inserts.

    The pool opens without waiting and reconnects in the background for at most the writer's
    longest backoff; a checkout waits ``CHECKOUT_TIMEOUT_S``, and is checked first, so a dead
    connection is replaced rather than handed to a write. Outages thus surface as
    ``StoreUnavailable`` quickly, and the writer's backoff decides when to ask again.
    """

    dialect = POSTGRESQL

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._pool: Any = None
        self._migrated = False
        self._ids = Ids()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        import psycopg

        try:
            yield
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            raise StoreUnavailable(f"PostgreSQL: {str(error).strip()}") from error

    async def connect(self) -> None:
        """Open the pool (once), then check out a connection: migrate on the first success."""
        if self._pool is None:
            from psycopg_pool import AsyncConnectionPool

            # the writer reports outages itself, once each; the pool would warn per attempt
            logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
            self._pool = AsyncConnectionPool(
                self.conninfo, min_size=1, max_size=1, open=False, name="ebb-inference-log",
                kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S,
                        "application_name": "ebb-inference-log"},
                check=AsyncConnectionPool.check_connection, timeout=CHECKOUT_TIMEOUT_S,
                reconnect_timeout=MAX_DELAY_S)
            await self._pool.open(wait=False)
        with self._errors():
            first = not self._migrated  # the pool's first connection may take a while
            async with self._pool.connection(CONNECT_TIMEOUT_S if first else None) as conn:
                if first:
                    await self._migrate(conn)
                    self._migrated = True
        self._ids = Ids()

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
        if self._pool is None or not self._migrated:
            raise StoreUnavailable("PostgreSQL: not connected")
        return self._pool

    async def write(self, rows: Sequence[RequestRow]) -> None:
        pool = self._connected()
        with self._errors():
            async with pool.connection() as conn, conn.transaction():
                ids = self._ids
                values = request_values(rows, ids)
                if values is None:
                    ids = await self._resolve(conn, rows)
                    values = request_values(rows, ids)
                    assert values is not None
                cursor = conn.cursor()
                if has_payloads(rows):
                    await cursor.execute(
                        "SELECT nextval(pg_get_serial_sequence('requests', 'id')) "
                        "FROM generate_series(1, %s)", (len(rows),))
                    request_ids = [request_id for (request_id,) in await cursor.fetchall()]
                    await _copy_binary(cursor, "requests", ("id", *REQUEST_COLUMNS),
                                       request_block(with_ids(values, request_ids), True,
                                                     conn.info.encoding))
                    await _copy(cursor, "tensor_data", PAYLOAD_COLUMNS,
                                payload_values(rows, request_ids))
                else:
                    await _copy_binary(cursor, "requests", REQUEST_COLUMNS,
                                       request_block(values, False, conn.info.encoding))
            self._ids = ids

    async def _resolve(self, conn: Any, rows: Sequence[RequestRow]) -> Ids:
        versions, protocols, signatures = self._ids.missing(rows)
        add_model, model_id, add_version, version_id = version_statements(self.dialect)
        found_versions: dict[VersionKey, int] = {}
        for model, version in versions:
            await conn.execute(add_model, (model,))
            (model_key,) = await (await conn.execute(model_id, (model,))).fetchone()
            await conn.execute(add_version, (model_key, version))
            cursor = await conn.execute(version_id, (model_key, version))
            (found_versions[model, version],) = await cursor.fetchone()
        add, select = name_statements(self.dialect, "protocols", "name")
        found_protocols: dict[str, int | None] = {}
        for name in protocols:
            await conn.execute(add, (name,))
            (found_protocols[name],) = await (await conn.execute(select, (name,))).fetchone()
        found_signatures = {signature: await self._signature_id(conn, signature)
                            for signature in signatures}
        return self._ids.extended(found_versions, found_protocols, found_signatures)

    async def _signature_id(self, conn: Any, signature: Signature) -> int:
        add, select = name_statements(self.dialect, "signatures", "spec")
        spec = signature_key(signature)
        added = (await conn.execute(add, (spec,))).rowcount
        (signature_id,) = await (await conn.execute(select, (spec,))).fetchone()
        if added:
            async with conn.cursor() as cursor:
                await cursor.executemany(
                    self.dialect.insert("signature_tensors", SIGNATURE_COLUMNS),
                    [(signature_id, *row) for row in signature_rows(signature)])
        return int(signature_id)

    async def prune(self, before: float) -> int:
        payloads, requests = prune_statements(self.dialect)
        with self._errors():
            async with self._connected().connection() as conn, conn.transaction():
                await conn.execute(payloads, (before,))
                cursor = await conn.execute(requests, (before,))
                return int(cursor.rowcount)

    async def query(self, where: LogFilter) -> list[LogEntry]:
        sql, params = select_entries(self.dialect, where)
        with self._errors():
            async with self._connected().connection() as conn:
                cursor = await conn.execute(sql, params)
                return [LogEntry(*row) for row in await cursor.fetchall()]

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool, self._migrated = self._pool, None, False
            with self._errors():
                await pool.close()


async def _copy_binary(cursor: Any, table: str, columns: tuple[str, ...],
                       block: bytes) -> None:
    """COPY rows as one binary block (``ebb.inference_log.copy_rows``): one write per batch
    instead of one awaited ``write_row`` (and its per-value adaptation) per row."""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    async with cursor.copy(sql) as copy:
        await copy.write(block)


async def _copy(cursor: Any, table: str, columns: tuple[str, ...],
                values: Sequence[Values]) -> None:
    async with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in values:
            await copy.write_row(row)
