"""The async engine factory and the transaction discipline every repository follows.

SQLite is the zero-setup default: WAL so readers never block the writer, a busy timeout so concurrent
writers queue instead of failing, and ``BEGIN IMMEDIATE`` for write transactions so two writers cannot
both read-then-upgrade and deadlock. PostgreSQL (asyncpg) is for production and several replicas.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from acmeca.config import DatabaseConfig
from acmeca.domain.errors import ServiceUnavailable

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_BUSY_SECONDS = SQLITE_BUSY_TIMEOUT_MS / 1000
SQLITE_POOL_SIZE = 24
T = TypeVar("T")
S = TypeVar("S", bound=sa.Executable)


@dataclass(frozen=True)
class DatabaseSettings:
    """What ca.json's ``db`` object says, already resolved to a SQLAlchemy URL."""

    url: str
    pool_size: int = 10

    @property
    def dialect(self) -> str:
        return make_url(self.url).get_backend_name()


def database_settings(db: DatabaseConfig) -> DatabaseSettings:
    """ca.json's ``db`` (step-ca's ``{"type", "dataSource", "database"}``, checked at load) as our settings."""
    if db.type == "sqlite":
        return DatabaseSettings(url=f"sqlite+aiosqlite:///{db.data_source}")
    url = make_url(db.data_source)
    if url.get_backend_name() not in ("postgresql", "postgres"):
        raise ValueError("db.dataSource must be a postgresql:// URL")
    url = url.set(drivername="postgresql+asyncpg")
    if db.database:
        url = url.set(database=db.database)
    return DatabaseSettings(url=url.render_as_string(hide_password=False))


FAST_READ = "acmeca_fast_read"


def fast_read(statement: S) -> S:
    """Mark a module-level SELECT for the SQLite in-place fast path (compiled once, run straight on sqlite3).

    SQLAlchemy's per-execution machinery costs several times the statement itself; for the handful of reads
    every ACME request repeats, the fast path binds and decodes with the same type processors itself.
    Expanding (IN-list) parameters are not supported there; such statements take the ordinary path.
    """
    return statement.execution_options(**{FAST_READ: True})


class _CompiledRead:
    def __init__(self, statement: sa.Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.compiled = compiled
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup or ())
        processors = cast(dict[str, Callable[[Any], Any]], compiled._bind_processors)
        self.binds = tuple(processors.get(name) for name in self.names)
        columns = compiled._result_columns
        self.metadata = SimpleResultMetaData([column.keyname for column in columns])
        self.decoders = tuple(column.type._cached_result_processor(dialect, None) for column in columns)

    def run(self, driver: Any, parameters: dict[str, Any] | None) -> IteratorResult[Any]:
        values = self.compiled.construct_params(parameters or {})
        bound = [
            bind(values[name]) if bind is not None else values[name]
            for name, bind in zip(self.names, self.binds, strict=True)
        ]
        rows = driver.execute(self.sql, bound).fetchall()
        decoders = self.decoders
        decoded = [
            tuple(decode(value) if decode is not None else value for decode, value in zip(decoders, row, strict=True))
            for row in rows
        ]
        return IteratorResult(self.metadata, iter(decoded))


class _LoopConnection:
    """A synchronous SQLite connection behind AsyncConnection's awaitable API.

    SQLite is a library, not a server: a statement on a local WAL database takes microseconds, while handing
    it to aiosqlite's thread and back costs about a millisecond of CPU (measured: 0.9 ms per one-select
    transaction against 0.007 ms in place). So on SQLite the request path runs statements in place, on the
    event loop thread. Nothing here can wait on another writer of this process (writers queue on an asyncio
    lock first); only another *process* writing the same file can make a statement wait, for as long as its
    write transaction lasts. Several replicas belong on PostgreSQL.
    """

    def __init__(self, sync: sa.Connection, fast_reads: dict[int, _CompiledRead] | None = None) -> None:
        self._sync = sync
        self._fast_reads = fast_reads
        # Results handed out, closed when the read scope ends: on the shared autocommit reader a cursor left
        # half-read would keep its snapshot open, and later reads on the connection would see stale data.
        self.results: list[sa.CursorResult[Any]] = []

    @property
    def dialect(self) -> Dialect:
        return self._sync.dialect

    async def execute(self, statement: Any, parameters: Any = None, **kwargs: Any) -> Any:
        if self._fast_reads is not None and isinstance(statement, sa.Select) and not kwargs and (
            statement.get_execution_options().get(FAST_READ)
        ):
            compiled = self._fast_reads.get(id(statement))
            if compiled is None or compiled.compiled.statement is not statement:
                compiled = self._fast_reads[id(statement)] = _CompiledRead(statement, self._sync.dialect)
            return compiled.run(self._sync.connection.driver_connection, parameters)
        result = self._sync.execute(statement, parameters, **kwargs)
        self.results.append(result)
        return result

    async def scalar(self, statement: Any, parameters: Any = None, **kwargs: Any) -> Any:
        if self._fast_reads is not None:
            return (await self.execute(statement, parameters, **kwargs)).scalar()
        return self._sync.scalar(statement, parameters, **kwargs)

    async def scalars(self, statement: Any, parameters: Any = None, **kwargs: Any) -> Any:
        return (await self.execute(statement, parameters, **kwargs)).scalars()

    def close_results(self) -> None:
        for result in self.results:
            result.close()
        self.results.clear()

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return fn(self._sync, *args, **kwargs)

    @asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[sa.NestedTransaction]:
        with self._sync.begin_nested() as savepoint:
            yield savepoint


class Database:
    """Owns the engines; hands out read and write transactions."""

    def __init__(self, engine: AsyncEngine, sqlite: sa.Engine | None = None) -> None:
        self.engine = engine  # migrations, and every statement on PostgreSQL
        self._sqlite = sqlite  # the request path on SQLite (see _LoopConnection)
        # SQLite admits one writer at a time; this process's writers queue here rather than in SQLite's busy
        # handler, which sleeps in steps of up to 100 ms (and would block the loop).
        self._sqlite_writers: asyncio.Lock | None = None
        self._sqlite_reader: sa.Connection | None = None
        self._sqlite_writer: sa.Connection | None = None  # one suffices: writers take turns on the lock
        self._fast_reads: dict[int, _CompiledRead] = {}  # by id() of module-level statements, which live forever

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> URL:
        return self.engine.url

    @classmethod
    def connect(cls, settings: DatabaseSettings) -> Database:
        url = make_url(settings.url)
        if url.get_backend_name() == "sqlite":
            engine = create_async_engine(url, poolclass=NullPool, connect_args={"timeout": SQLITE_BUSY_SECONDS})
            _configure_sqlite(engine.sync_engine)
            sqlite = sa.create_engine(
                url.set(drivername="sqlite+pysqlite"), pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_SIZE,
                connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False},
            )
            _configure_sqlite(sqlite, in_place=True)
            return cls(engine, sqlite)
        engine = create_async_engine(
            url, pool_size=settings.pool_size, max_overflow=settings.pool_size, pool_pre_ping=True
        )
        return cls(engine)

    async def close(self) -> None:
        for shared in (self._sqlite_reader, self._sqlite_writer):
            if shared is not None:
                shared.close()
        self._sqlite_reader = self._sqlite_writer = None
        if self._sqlite is not None:
            self._sqlite.dispose()
        await self.engine.dispose()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed on success, rolled back on any exception."""
        try:
            if self._sqlite is not None:
                async with self._writer_slot():
                    with self._shared_writer().begin():
                        yield cast(AsyncConnection, _LoopConnection(self._shared_writer()))
                return
            async with self.engine.connect() as conn, conn.begin():
                yield conn
        except (OperationalError, DBAPIError) as exc:
            if exc.connection_invalidated or isinstance(exc, OperationalError):
                raise ServiceUnavailable("the database is unavailable, try again") from exc
            raise

    def _shared_writer(self) -> sa.Connection:
        assert self._sqlite is not None
        if self._sqlite_writer is None or self._sqlite_writer.closed or self._sqlite_writer.invalidated:
            self._sqlite_writer = self._sqlite.connect().execution_options(sqlite_begin="IMMEDIATE")
        return self._sqlite_writer

    def _shared_reader(self) -> sa.Connection:
        assert self._sqlite is not None
        if self._sqlite_reader is None or self._sqlite_reader.closed or self._sqlite_reader.invalidated:
            self._sqlite_reader = self._sqlite.connect().execution_options(sqlite_begin=None)
        return self._sqlite_reader

    @asynccontextmanager
    async def _writer_slot(self) -> AsyncIterator[None]:
        if self._sqlite_writers is None:
            self._sqlite_writers = asyncio.Lock()
        async with self._sqlite_writers:
            yield

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction on PostgreSQL; on SQLite, reads on one shared autocommit connection.

        SQLite statements run in place without yielding to the loop, so the statements a repository function
        runs back to back see one state of this process's data; a BEGIN/COMMIT pair and a pool checkout per
        read would cost more than the reads themselves.
        """
        try:
            if self._sqlite is not None:
                reader = _LoopConnection(self._shared_reader(), self._fast_reads)
                try:
                    yield cast(AsyncConnection, reader)
                finally:
                    reader.close_results()
                return
            async with self.engine.connect() as conn, conn.begin():
                yield conn
        except OperationalError as exc:
            raise ServiceUnavailable("the database is unavailable, try again") from exc


def _configure_sqlite(engine: sa.Engine, *, in_place: bool = False) -> None:
    """Pragmas on connect; BEGIN emitted by us so writers can ask for IMMEDIATE.

    ``in_place``: the connection is a plain sqlite3 one on this thread, so BEGIN goes straight to it rather
    than through SQLAlchemy's statement machinery (which costs more than the BEGIN itself).
    """
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below emit BEGIN, so we can choose IMMEDIATE for writers.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode is None:  # the shared reader, whose statements each commit on their own
            return
        if in_place:
            conn.connection.driver_connection.execute(f"BEGIN {mode}")  # type: ignore[union-attr]
        else:
            conn.exec_driver_sql(f"BEGIN {mode}")
