"""SQLite in place: a :class:`Transaction` that runs statements on the event loop thread, and the fast read path.

SQLite is a library, not a server: a statement on a local WAL database takes microseconds, while handing it to
aiosqlite's thread and back costs about a millisecond of CPU (bench/db_transactions.py). So on SQLite the
request path runs statements in place. Nothing here can wait on another writer of this process (writers queue
on an asyncio lock first, see ``Database.write``); only another *process* writing the same file can make a
statement wait, for as long as its write transaction lasts. Several replicas belong on PostgreSQL.

Statements marked with ``fast_read`` skip SQLAlchemy's per-execution machinery: each is compiled once, its
parameters bound and its columns decoded with the processors SQLAlchemy's own types hand out through public
API (``TypeEngine.dialect_impl(dialect).bind_processor`` / ``.result_processor``), and it runs straight on
the sqlite3 connection. tests/unit/store/test_database.py checks that both paths return the same rows.
Statements marked with ``fast_write`` get the same treatment, compiled once per set of parameter names;
tests/unit/store/test_fast_paths.py checks they write what the ordinary path writes and fail the same way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa

from acmeca.store.compiled import CompiledStatements
from acmeca.store.transaction import Params, Row, Transaction, Write


class InPlaceTransaction(Transaction):
    """A transaction on a synchronous SQLite connection, each statement run in place.

    ``compiled`` is the per-database cache of fast statements (``acmeca.store.compiled``). Reads inside a
    write transaction take the fast path too: it runs on the same connection, so it sees the transaction's
    own writes.
    """

    def __init__(self, connection: sa.Connection, compiled: CompiledStatements) -> None:
        self._sync = connection
        self._compiled = compiled

    @property
    def dialect(self) -> str:
        return "sqlite"

    def _driver(self) -> Any:
        return self._sync.connection.driver_connection

    async def execute(self, statement: Write, parameters: Params | Sequence[Params] | None = None) -> int:
        fast = self._compiled.write(statement, parameters)
        if fast is None:
            return int(self._sync.execute(statement, parameters).rowcount)
        bound: Any
        if isinstance(parameters, Sequence):
            many, bound = True, [fast.bound(p) for p in parameters]
        else:
            many, bound = False, fast.bound(parameters)
        driver = self._driver()
        try:
            cursor = driver.executemany(fast.sql, bound) if many else driver.execute(fast.sql, bound)
        except sqlite3.Error as exc:
            raise _wrapped(exc, fast.sql, bound, fast.dialect, many=many) from exc
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    async def all(self, statement: sa.Executable, parameters: Params | None = None) -> Sequence[Row]:
        fast = self._compiled.read(statement)
        if fast is None:
            return self._sync.execute(statement, parameters).all()
        return [fast.row(raw) for raw in self._driver().execute(fast.sql, fast.bound(parameters)).fetchall()]

    async def first(self, statement: sa.Executable, parameters: Params | None = None) -> Row | None:
        fast = self._compiled.read(statement)
        if fast is None:
            return self._sync.execute(statement, parameters).first()
        raw = _first_raw(self._driver(), fast.sql, fast.bound(parameters))
        return fast.row(raw) if raw is not None else None

    async def scalar(self, statement: sa.Executable, parameters: Params | None = None) -> Any:
        fast = self._compiled.read(statement)
        if fast is not None:
            raw = _first_raw(self._driver(), fast.sql, fast.bound(parameters))
            return fast.first_value(raw[0]) if raw is not None else None
        fast_write = self._compiled.write(statement, parameters, returns=True)
        if fast_write is None:
            return self._sync.execute(statement, parameters).scalar()
        bound = fast_write.bound(parameters)
        try:
            raw = _first_raw(self._driver(), fast_write.sql, bound)
        except sqlite3.Error as exc:
            raise _wrapped(exc, fast_write.sql, bound, fast_write.dialect) from exc
        return fast_write.first_value(raw[0]) if raw is not None else None

    async def scalars(self, statement: sa.Executable, parameters: Params | None = None) -> list[Any]:
        fast = self._compiled.read(statement)
        if fast is None:
            return list(self._sync.execute(statement, parameters).scalars().all())
        rows = self._driver().execute(fast.sql, fast.bound(parameters)).fetchall()
        return [fast.first_value(raw[0]) for raw in rows]

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        with self._sync.begin_nested():
            yield


def _first_raw(driver: Any, sql: str, bound: list[Any]) -> Any:
    cursor = driver.execute(sql, bound)
    try:
        return cursor.fetchone()
    finally:
        cursor.close()  # a cursor left open would keep its snapshot (and later reads stale)


def _wrapped(error: sqlite3.Error, sql: str, bound: Any, dialect: Any, *, many: bool = False) -> sa.exc.StatementError:
    """The driver's error wrapped exactly as SQLAlchemy wraps it (``IntegrityError`` and the rest), so callers
    catch the same classes on either path."""
    return sa.exc.DBAPIError.instance(sql, bound, error, sqlite3.Error, dialect=dialect, ismulti=many)
