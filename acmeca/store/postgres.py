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

    def __init__(self, connection: AsyncConnection, session: DriverSession, compiled: CompiledStatements):
        self._connection = connection
        self._session = session
        self._compiled = compiled

    @property
    def dialect(self) -> str:
        return "postgresql"

    async def execute(self, statement: Write, parameters: Params | Sequence[Params] | None = None) -> int:
        fast = self._compiled.write(statement, parameters)
        if fast is None or isinstance(parameters, Sequence):  # a list of parameter sets: executemany's path
            return int((await self._connection.execute(statement, parameters)).rowcount)
        driver = self._session.driver
        return _rowcount(await self._session.run(driver.execute, fast.sql, *fast.bound(parameters)))

    async def all(self, statement: sa.Executable, parameters: Params | None = None) -> Sequence[Row]:
        fast = self._compiled.read(statement)
        if fast is None:
            return (await self._connection.execute(statement, parameters)).all()
        rows = await self._session.run(self._session.driver.fetch, fast.sql, *fast.bound(parameters))
        return [fast.row(raw) for raw in rows]

    async def first(self, statement: sa.Executable, parameters: Params | None = None) -> Row | None:
        fast = self._compiled.read(statement)
        if fast is None:
            return (await self._connection.execute(statement, parameters)).first()
        raw = await self._session.run(self._session.driver.fetchrow, fast.sql, *fast.bound(parameters))
        return fast.row(raw) if raw is not None else None

    async def scalar(self, statement: sa.Executable, parameters: Params | None = None) -> Any:
        fast = self._compiled.read(statement) or self._compiled.write(statement, parameters, returns=True)
        if fast is None:
            return await self._connection.scalar(statement, parameters)
        raw = await self._session.run(self._session.driver.fetchrow, fast.sql, *fast.bound(parameters))
        return fast.first_value(raw[0]) if raw is not None else None

    async def scalars(self, statement: sa.Executable, parameters: Params | None = None) -> list[Any]:
        fast = self._compiled.read(statement)
        if fast is None:
            return list((await self._connection.scalars(statement, parameters)).all())
        rows = await self._session.run(self._session.driver.fetch, fast.sql, *fast.bound(parameters))
        return [fast.first_value(raw[0]) for raw in rows]

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        async with self._session.transaction():  # nested in the driver's transaction: a SAVEPOINT
            yield


class DriverSession:
    """One checked-out asyncpg connection, and whether its state is known.

    A round trip that ended in PostgreSQL's answer (rows, or an error PostgreSQL sent) leaves the connection
    ready for the next statement. One that ended any other way (cancelled, a broken socket, a client-side
    protocol error) leaves it *unsettled*: it may still be mid-operation, so it is invalidated rather than
    rolled back and lent to the next request.
    """

    def __init__(self, pooled: PoolProxiedConnection) -> None:
        self._pooled = pooled
        self.driver: asyncpg.Connection = pooled.driver_connection
        self.unsettled = False

    async def run(self, call: Callable[..., Awaitable[Any]], sql: str, *bound: Any) -> Any:
        """One statement, ``call(sql, *bound)``; its errors as the SQLAlchemy classes the ordinary path raises."""
        return await self._guarded(lambda: call(sql, *bound), sql, bound)

    async def _guarded(self, call: Callable[[], Awaitable[Any]], sql: str, bound: Sequence[Any]) -> Any:
        self.unsettled = True
        try:
            result = await call()
        except asyncpg.PostgresError as exc:
            self.unsettled = self.driver.is_closed()
            raise _wrapped(exc, sql, bound, closed=self.unsettled) from exc
        except (asyncpg.InterfaceError, asyncpg.InternalClientError, OSError, TimeoutError) as exc:
            # A parameter asyncpg could not encode (an InterfaceError that is also a ValueError) is refused
            # before anything is sent; anything else here leaves the protocol's state unknown, e.g. a pooled
            # connection that a server shutting down wrote to while it sat idle.
            self.unsettled = not _encoding_error(exc) or self.driver.is_closed()
            raise _wrapped(exc, sql, bound, closed=self.unsettled) from exc
        self.unsettled = False
        return result

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """BEGIN ... COMMIT, or a SAVEPOINT inside one; rolled back on any exception the connection survived."""
        begun = await self._guarded(lambda: _begin(self.driver), "BEGIN", ())
        try:
            yield
        except BaseException as failure:
            if self.unsettled or self.driver.is_closed():
                raise  # nothing to roll back on: the connection is invalidated on the way out
            try:
                await self._guarded(begun.rollback, "ROLLBACK", ())
            except Exception:
                if isinstance(failure, Exception):
                    raise
                raise failure from None  # a cancellation stays a cancellation
            raise
        await self._guarded(begun.commit, "COMMIT", ())

    def invalidate_if_unsettled(self, error: BaseException) -> None:
        if (self.unsettled or self.driver.is_closed()) and self._pooled.is_valid:
            self._pooled.invalidate(error)


async def _begin(driver: asyncpg.Connection) -> Any:
    begun = driver.transaction()  # raises at once on a closed connection: part of the guarded step
    await begun.start()
    return begun


@asynccontextmanager
async def driver_session(connection: AsyncConnection, *, transaction: bool) -> AsyncIterator[DriverSession]:
    """The asyncpg connection behind an AUTOCOMMIT ``connection``; with ``transaction``, inside BEGIN ...
    COMMIT (ROLLBACK on any exception) begun and ended on the driver.

    A connection left unsettled (see :class:`DriverSession`) or closed is invalidated on the way out: the
    pool closes it instead of lending it out again.
    """
    session = DriverSession(await _pooled(connection))
    try:
        if not transaction:
            yield session
            return
        async with session.transaction():
            yield session
    except BaseException as exc:
        session.invalidate_if_unsettled(exc)
        raise


async def _pooled(connection: AsyncConnection) -> PoolProxiedConnection:
    """The pooled connection behind a started ``connection``: read straight from its synchronous side, which
    holds it already (``get_raw_connection`` would cross a greenlet to read the same attribute), unless the
    connection was invalidated and must be revalidated first."""
    sync = connection.sync_connection
    if sync is not None and not sync.invalidated:
        return sync.connection
    return await connection.get_raw_connection()


def _rowcount(status: str) -> int:
    """Rows an INSERT, UPDATE or DELETE touched, from asyncpg's command status (``UPDATE 3``, ``INSERT 0 1``)."""
    count = status.rsplit(" ", 1)[-1]
    return int(count) if count.isdigit() else -1


def _wrapped(error: Exception, sql: str, bound: Sequence[Any], *, closed: bool) -> sa.exc.DBAPIError:
    """The SQLAlchemy class the ordinary path raises for this asyncpg error, with it as ``orig``;
    ``closed``: the connection is gone or its state unknown (``connection_invalidated``, an outage)."""
    wrapper: type[sa.exc.DBAPIError]
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        wrapper = sa.exc.IntegrityError
    elif isinstance(error, asyncpg.SyntaxOrAccessError):
        wrapper = sa.exc.ProgrammingError
    elif isinstance(error, asyncpg.DataError) or _encoding_error(error):
        wrapper = sa.exc.DataError
    elif isinstance(error, asyncpg.InterfaceError | asyncpg.InternalClientError | OSError | TimeoutError):
        wrapper = sa.exc.OperationalError
    else:
        wrapper = sa.exc.DatabaseError
    return wrapper(sql, list(bound), error, connection_invalidated=closed)


def _encoding_error(error: Exception) -> bool:
    """asyncpg could not encode a parameter: a mistake in the statement's caller, found before sending."""
    return isinstance(error, asyncpg.InterfaceError) and isinstance(error, ValueError)
