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

import keyword
import sqlite3
from collections import namedtuple
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from acmeca.store.transaction import FAST_READ, FAST_WRITE, Params, Row, Transaction, Write

Processor = Callable[[Any], Any]


class CompiledRead:
    """One ``fast_read`` SELECT, compiled for SQLite once; ``supported`` is False when it must take the
    ordinary path (IN-lists and other parameters rendered at execution time, or column names that cannot
    be attributes)."""

    def __init__(self, statement: sa.Select[Any], dialect: Dialect) -> None:
        self.statement = statement  # held, so its id() is never reused while this entry lives
        compiled = statement.compile(dialect=dialect)
        self._compiled = compiled
        self.sql = compiled.string
        self._names = tuple(compiled.positiontup or ())
        binds = compiled.binds
        fields = list(statement.selected_columns.keys())
        columns = list(statement.selected_columns)
        self.supported = (
            not compiled.post_compile_params
            and not compiled.literal_execute_params
            and all(name in binds and not binds[name].expanding for name in self._names)
            and _valid_fields(fields)
        )
        if not self.supported:
            return
        self._binds: tuple[Processor | None, ...] = tuple(
            binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self._names
        )
        # SQLite's cursor.description carries no type codes: SQLAlchemy asks its processors with None too.
        decoders = [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns]
        self._decoders = tuple((index, decode) for index, decode in enumerate(decoders) if decode is not None)
        self._first_decoder = decoders[0] if decoders else None
        self._make = _row_maker(fields)

    def _bound(self, parameters: Params | None) -> list[Any]:
        values = self._compiled.construct_params(parameters or {})
        return [
            bind(values[name]) if bind is not None else values[name]
            for name, bind in zip(self._names, self._binds, strict=True)
        ]

    def _row(self, raw: Sequence[Any]) -> Row:
        if not self._decoders:
            return self._make(raw)
        values = list(raw)
        for index, decode in self._decoders:
            values[index] = decode(values[index])
        return self._make(values)

    def all(self, driver: Any, parameters: Params | None) -> list[Row]:
        return [self._row(raw) for raw in driver.execute(self.sql, self._bound(parameters)).fetchall()]

    def first(self, driver: Any, parameters: Params | None) -> Row | None:
        raw = self._first_raw(driver, parameters)
        return self._row(raw) if raw is not None else None

    def scalar(self, driver: Any, parameters: Params | None) -> Any:
        raw = self._first_raw(driver, parameters)
        if raw is None:
            return None
        decode = self._first_decoder
        return decode(raw[0]) if decode is not None else raw[0]

    def scalars(self, driver: Any, parameters: Params | None) -> list[Any]:
        rows = driver.execute(self.sql, self._bound(parameters)).fetchall()
        decode = self._first_decoder
        if decode is None:
            return [raw[0] for raw in rows]
        return [decode(raw[0]) for raw in rows]

    def _first_raw(self, driver: Any, parameters: Params | None) -> Any:
        cursor = driver.execute(self.sql, self._bound(parameters))
        try:
            return cursor.fetchone()
        finally:
            cursor.close()  # a cursor left open would keep its snapshot (and later reads stale)


class CompiledWrite:
    """One ``fast_write`` statement compiled for SQLite with one set of parameter names (an INSERT's columns
    depend on them); ``supported`` is False when SQLAlchemy's execution context would add something the fast
    path does not (Python-side defaults, IN-lists). A statement with RETURNING runs through ``scalar`` only,
    one without through ``execute`` only."""

    def __init__(self, statement: Write, dialect: Dialect, keys: tuple[str, ...]) -> None:
        self.statement = statement  # held, so its id() is never reused while this entry lives
        self._dialect = dialect
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        self._compiled = compiled
        self.sql = compiled.string
        self._names = tuple(compiled.positiontup or ())
        binds = compiled.binds
        self.supported = (
            not compiled.post_compile_params
            and not compiled.literal_execute_params
            and not compiled.insert_prefetch
            and not compiled.update_prefetch
            and all(name in binds and not binds[name].expanding for name in self._names)
        )
        returning = compiled.effective_returning or ()
        self.returns = bool(returning)
        if self.supported:
            self._binds: tuple[Processor | None, ...] = tuple(
                binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self._names
            )
            self._first_decoder = (
                returning[0].type.dialect_impl(dialect).result_processor(dialect, None) if returning else None
            )

    def _bound(self, parameters: Params | None) -> list[Any]:
        values = self._compiled.construct_params(parameters or {})
        return [
            bind(values[name]) if bind is not None else values[name]
            for name, bind in zip(self._names, self._binds, strict=True)
        ]

    def execute(self, driver: Any, parameters: Params | Sequence[Params] | None) -> int:
        """Run once, or once per parameter set; the rows touched. Driver errors surface wrapped exactly as
        SQLAlchemy wraps them (``IntegrityError`` and the rest), so callers catch the same classes."""
        bound: Any
        if isinstance(parameters, Sequence):
            many, bound = True, [self._bound(p) for p in parameters]
        else:
            many, bound = False, self._bound(parameters)
        try:
            cursor = driver.executemany(self.sql, bound) if many else driver.execute(self.sql, bound)
        except sqlite3.Error as exc:
            raise sa.exc.DBAPIError.instance(
                self.sql, bound, exc, sqlite3.Error, dialect=self._dialect, ismulti=many
            ) from exc
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def scalar(self, driver: Any, parameters: Params | None) -> Any:
        """The first RETURNING column of the first row (None when no row was written)."""
        bound = self._bound(parameters)
        try:
            cursor = driver.execute(self.sql, bound)
            try:
                raw = cursor.fetchone()
            finally:
                cursor.close()
        except sqlite3.Error as exc:
            raise sa.exc.DBAPIError.instance(self.sql, bound, exc, sqlite3.Error, dialect=self._dialect) from exc
        if raw is None:
            return None
        decode = self._first_decoder
        return decode(raw[0]) if decode is not None else raw[0]


def write_keys(parameters: Params | Sequence[Params] | None) -> tuple[str, ...] | None:
    """The parameter names a write is compiled for; None when a parameter list mixes names."""
    if parameters is None:
        return ()
    if isinstance(parameters, Sequence):
        if not parameters:
            return None
        keys = tuple(sorted(parameters[0]))
        return keys if all(tuple(sorted(p)) == keys for p in parameters[1:]) else None
    return tuple(sorted(parameters))


def _row_maker(fields: list[str]) -> Callable[[Sequence[Any]], Row]:
    """A named tuple type for these columns (rows read ``row.name`` as SQLAlchemy's do); returns its _make."""
    factory: Callable[..., type[Any]] = namedtuple  # called with fields known only at run time
    make: Callable[[Sequence[Any]], Row] = factory("Row", fields)._make
    return make


def _valid_fields(fields: list[str]) -> bool:
    return len(set(fields)) == len(fields) and all(
        f.isidentifier() and not keyword.iskeyword(f) and not f.startswith("_") for f in fields
    )


class InPlaceTransaction(Transaction):
    """A transaction on a synchronous SQLite connection, each statement run in place.

    ``fast_reads`` is the per-database cache of compiled ``fast_read`` statements, keyed by ``id()`` of the
    module-level statements, which live for the life of the process. Reads inside a write transaction take
    the fast path too: it runs on the same connection, so it sees the transaction's own writes.
    """

    def __init__(
        self,
        connection: sa.Connection,
        fast_reads: dict[int, CompiledRead],
        fast_writes: dict[tuple[int, tuple[str, ...]], CompiledWrite] | None = None,
    ) -> None:
        self._sync = connection
        self._fast_reads = fast_reads
        self._fast_writes = fast_writes if fast_writes is not None else {}

    @property
    def dialect(self) -> str:
        return "sqlite"

    def _fast(self, statement: sa.Executable) -> CompiledRead | None:
        compiled = self._fast_reads.get(id(statement))
        if compiled is None or compiled.statement is not statement:
            if not isinstance(statement, sa.Select) or not statement.get_execution_options().get(FAST_READ):
                return None
            compiled = self._fast_reads[id(statement)] = CompiledRead(statement, self._sync.dialect)
        return compiled if compiled.supported else None

    def _driver(self) -> Any:
        return self._sync.connection.driver_connection

    def _fast_write(
        self, statement: sa.Executable, parameters: Params | Sequence[Params] | None, *, returns: bool = False
    ) -> CompiledWrite | None:
        if not isinstance(statement, sa.Insert | sa.Update | sa.Delete):
            return None
        if not statement.get_execution_options().get(FAST_WRITE):
            return None
        keys = write_keys(parameters)
        if keys is None:
            return None
        compiled = self._fast_writes.get((id(statement), keys))
        if compiled is None or compiled.statement is not statement:
            compiled = self._fast_writes[(id(statement), keys)] = CompiledWrite(statement, self._sync.dialect, keys)
        return compiled if compiled.supported and compiled.returns == returns else None

    async def execute(self, statement: Write, parameters: Params | Sequence[Params] | None = None) -> int:
        fast = self._fast_write(statement, parameters)
        if fast is not None:
            return fast.execute(self._driver(), parameters)
        return int(self._sync.execute(statement, parameters).rowcount)

    async def all(self, statement: sa.Executable, parameters: Params | None = None) -> Sequence[Row]:
        fast = self._fast(statement)
        if fast is not None:
            return fast.all(self._driver(), parameters)
        return self._sync.execute(statement, parameters).all()

    async def first(self, statement: sa.Executable, parameters: Params | None = None) -> Row | None:
        fast = self._fast(statement)
        if fast is not None:
            return fast.first(self._driver(), parameters)
        return self._sync.execute(statement, parameters).first()

    async def scalar(self, statement: sa.Executable, parameters: Params | None = None) -> Any:
        fast = self._fast(statement)
        if fast is not None:
            return fast.scalar(self._driver(), parameters)
        fast_write = self._fast_write(statement, parameters, returns=True)
        if fast_write is not None:
            return fast_write.scalar(self._driver(), parameters)
        return self._sync.execute(statement, parameters).scalar()

    async def scalars(self, statement: sa.Executable, parameters: Params | None = None) -> list[Any]:
        fast = self._fast(statement)
        if fast is not None:
            return fast.scalars(self._driver(), parameters)
        return list(self._sync.execute(statement, parameters).scalars().all())

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        with self._sync.begin_nested():
            yield
