"""PostgreSQL: a :class:`Transaction` that runs the fast statements straight on asyncpg.

Through SQLAlchemy's asyncio layer a one-row read costs about 240 µs of client CPU on this project's test
machine, against about 18 µs for the same prepared statement on asyncpg alone (docs/performance.md): every
statement crosses a greenlet, the adapter's lock and cursor emulation, and the execution context. An ACME
order runs dozens of statements, so the statements marked ``fast_read``/``fast_write`` run on the asyncpg
connection itself, compiled once (``acmeca.store.compiled``) and prepared once per connection by asyncpg's
own statement cache. Every other statement takes SQLAlchemy's path on the same connection.

For both kinds to share one transaction, the connection is checked out in SQLAlchemy's AUTOCOMMIT mode
(SQLAlchemy then begins nothing itself) and the transaction is begun and ended on the driver, as SQLite's
write transactions are (``acmeca.store.database``). A connection whose transaction could not be ended
cleanly is invalidated, never handed out again with an unknown state.

Errors from the driver are wrapped in the SQLAlchemy classes the ordinary path raises (``IntegrityError`` and
the rest), so repositories catch the same exceptions on either path, and ``acmeca.store.outages`` reads the
same SQLSTATE through the chain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import PoolProxiedConnection

from acmeca.store.compiled import CompiledStatements
from acmeca.store.transaction import Params, Row, Transaction, Write


class PostgresTransaction(Transaction):
    """Statements on one pooled connection: fast ones on asyncpg, the rest through ``connection``."""

    def __init__(self, connection: AsyncConnection, driver: asyncpg.Connection, compiled: CompiledStatements):
        self._connection = connection
        self._driver = driver
        self._compiled = compiled

    @property
    def dialect(self) -> str:
        return "postgresql"

    async def execute(self, statement: Write, parameters: Params | Sequence[Params] | None = None) -> int:
        fast = self._compiled.write(statement, parameters)
        if fast is None or isinstance(parameters, Sequence):  # a list of parameter sets: executemany's path
            return int((await self._connection.execute(statement, parameters)).rowcount)
        bound = fast.bound(parameters)
        status = await self._run(self._driver.execute, fast.sql, bound)
        return _rowcount(status)

    async def all(self, statement: sa.Executable, parameters: Params | None = None) -> Sequence[Row]:
        fast = self._compiled.read(statement)
        if fast is None:
            return (await self._connection.execute(statement, parameters)).all()
        rows = await self._run(self._driver.fetch, fast.sql, fast.bound(parameters))
        return [fast.row(raw) for raw in rows]

    async def first(self, statement: sa.Executable, parameters: Params | None = None) -> Row | None:
        fast = self._compiled.read(statement)
        if fast is None:
            return (await self._connection.execute(statement, parameters)).first()
        raw = await self._run(self._driver.fetchrow, fast.sql, fast.bound(parameters))
        return fast.row(raw) if raw is not None else None

    async def scalar(self, statement: sa.Executable, parameters: Params | None = None) -> Any:
        fast = self._compiled.read(statement) or self._compiled.write(statement, parameters, returns=True)
        if fast is None:
            return await self._connection.scalar(statement, parameters)
        raw = await self._run(self._driver.fetchrow, fast.sql, fast.bound(parameters))
        return fast.first_value(raw[0]) if raw is not None else None

    async def scalars(self, statement: sa.Executable, parameters: Params | None = None) -> list[Any]:
        fast = self._compiled.read(statement)
        if fast is None:
            return list((await self._connection.scalars(statement, parameters)).all())
        rows = await self._run(self._driver.fetch, fast.sql, fast.bound(parameters))
        return [fast.first_value(raw[0]) for raw in rows]

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        # Inside the driver's transaction asyncpg makes a nested one a SAVEPOINT, rolled back to on error.
        async with self._driver.transaction():
            yield

    async def _run(self, call: Callable[..., Awaitable[Any]], sql: str, bound: list[Any]) -> Any:
        try:
            return await call(sql, *bound)
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise _wrapped(exc, sql, bound, closed=self._driver.is_closed()) from exc


@asynccontextmanager
async def driver_session(connection: AsyncConnection, *, transaction: bool) -> AsyncIterator[asyncpg.Connection]:
    """The asyncpg connection behind an AUTOCOMMIT ``connection``; with ``transaction``, inside BEGIN ...
    COMMIT (ROLLBACK on any exception) begun and ended on the driver.

    A connection found closed after a failure, or whose transaction could not be ended (a broken socket, a
    cancelled round trip), is invalidated: the pool closes it instead of lending it out again.
    """
    pooled: PoolProxiedConnection = await connection.get_raw_connection()
    driver: asyncpg.Connection = pooled.driver_connection
    begun = driver.transaction() if transaction else None
    if begun is not None:
        await _end(begun.start, driver, pooled)
    try:
        yield driver
    except BaseException as exc:
        if driver.is_closed():
            pooled.invalidate(exc)
        elif begun is not None:
            await _end(begun.rollback, driver, pooled)
        raise
    if begun is not None:
        await _end(begun.commit, driver, pooled)


async def _end(step: Callable[[], Awaitable[None]], driver: asyncpg.Connection, pooled: PoolProxiedConnection) -> None:
    """BEGIN, COMMIT or ROLLBACK. PostgreSQL refusing one (a COMMIT that fails ends the transaction) leaves
    the connection usable; any other failure leaves its state unknown, so it is invalidated."""
    try:
        await step()
    except asyncpg.PostgresError as exc:
        closed = driver.is_closed()
        if closed:
            pooled.invalidate(exc)
        raise _wrapped(exc, "", [], closed=closed) from exc
    except BaseException as exc:
        pooled.invalidate(exc)
        if isinstance(exc, asyncpg.InterfaceError):
            raise _wrapped(exc, "", [], closed=True) from exc
        raise


def _rowcount(status: str) -> int:
    """Rows an INSERT, UPDATE or DELETE touched, from asyncpg's command status (``UPDATE 3``, ``INSERT 0 1``)."""
    count = status.rsplit(" ", 1)[-1]
    return int(count) if count.isdigit() else -1


def _wrapped(error: Exception, sql: str, bound: list[Any], *, closed: bool) -> sa.exc.DBAPIError:
    """The SQLAlchemy class the ordinary path raises for this asyncpg error, with it as ``orig``."""
    wrapper: type[sa.exc.DBAPIError]
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        wrapper = sa.exc.IntegrityError
    elif isinstance(error, asyncpg.InterfaceError):
        wrapper = sa.exc.InterfaceError
    elif isinstance(error, asyncpg.SyntaxOrAccessError):
        wrapper = sa.exc.ProgrammingError
    elif isinstance(error, asyncpg.DataError):
        wrapper = sa.exc.DataError
    else:
        wrapper = sa.exc.DatabaseError
    return wrapper(sql, bound, error, connection_invalidated=closed)
