"""The database: engines, and the read and write transactions (:class:`Transaction`) services open.

SQLite is the zero-setup default: WAL so readers never block the writer, a busy timeout so concurrent
writers queue instead of failing, and ``BEGIN IMMEDIATE`` for write transactions so two writers cannot
both read-then-upgrade and deadlock. PostgreSQL (asyncpg) is for production and several replicas.

Every failure that means the database is unavailable (see ``acmeca.store.outages``) leaves a transaction as
:class:`ServiceUnavailable`, here and nowhere else, after the transaction rolled back; ``watch`` probes the
database in the background so the outage's end is noticed (and ``/health`` answers) without a request.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from acmeca.config import DatabaseConfig
from acmeca.store.compiled import CompiledStatements
from acmeca.store.inplace import InPlaceTransaction
from acmeca.store.outages import Availability, is_outage
from acmeca.store.postgres import DriverSession, PostgresTransaction, driver_session
from acmeca.store.transaction import Transaction

SQLITE_POOL_SIZE = 24
PROBE_INTERVAL = 1.0  # seconds between two probes of the database (Database.watch)
_SQLITE_BUSY = 5  # SQLite's primary result code for a lock held by another connection
_FIRST_LOCK_POLL = 0.0002  # seconds: first pause while another process holds SQLite's write lock
_LAST_LOCK_POLL = 0.005  # the longest pause between two attempts
PROBE_TIMEOUT = 2.0  # seconds PostgreSQL's SELECT 1 may take before the database counts as unavailable


@dataclass(frozen=True)
class DatabaseSettings:
    """What ca.json's ``db`` object says, already resolved to a SQLAlchemy URL."""

    url: str
    pool_size: int = 10
    busy_timeout: timedelta = timedelta(seconds=10)  # SQLite: how long a writer waits for another process's lock
    pool_timeout: timedelta = timedelta(seconds=30)  # PostgreSQL: how long a request waits for a free connection
    ping_after_idle: timedelta = timedelta(seconds=1)  # PostgreSQL: idle time after which a checkout pings first

    @property
    def dialect(self) -> str:
        return make_url(self.url).get_backend_name()


def database_settings(db: DatabaseConfig) -> DatabaseSettings:
    """ca.json's ``db`` (step-ca's ``{"type", "dataSource", "database"}``, checked at load) as our settings."""
    if db.type == "sqlite":
        return DatabaseSettings(url=f"sqlite+aiosqlite:///{db.data_source}", busy_timeout=db.busy_timeout)
    url = make_url(db.data_source)
    if url.get_backend_name() not in ("postgresql", "postgres"):
        raise ValueError("db.dataSource must be a postgresql:// URL")
    url = url.set(drivername="postgresql+asyncpg")
    if db.database:
        url = url.set(database=db.database)
    return DatabaseSettings(
        url=url.render_as_string(hide_password=False), pool_timeout=db.pool_timeout, pool_size=db.pool_size
    )


class Database:
    """Owns the engines; hands out read and write transactions."""

    def __init__(
        self, engine: AsyncEngine, sqlite: sa.Engine | None = None, *, busy_timeout: timedelta = timedelta(seconds=10),
    ) -> None:
        self.engine = engine  # migrations, and every statement on PostgreSQL
        # PostgreSQL reads run without BEGIN/COMMIT: under READ COMMITTED every statement sees its own snapshot
        # whether or not a transaction surrounds it, so the two round trips bought nothing.
        self._reader = engine.execution_options(isolation_level="AUTOCOMMIT") if sqlite is None else engine
        self._sqlite = sqlite  # the request path on SQLite (see acmeca.store.inplace)
        self._busy_seconds = busy_timeout.total_seconds()
        self.availability = Availability()
        # SQLite admits one writer at a time; this process's writers queue here rather than in SQLite's busy
        # handler, which sleeps in steps of up to 100 ms (and would block the loop).
        self._sqlite_writers: asyncio.Lock | None = None
        self._sqlite_reader: sa.Connection | None = None
        self._sqlite_writer: sa.Connection | None = None  # one suffices: writers take turns on the lock
        # fast_read/fast_write statements compiled for the request path's dialect (acmeca.store.compiled)
        self._compiled = CompiledStatements((sqlite or engine).dialect)
        self._on_close: list[Callable[[], None]] = []  # e.g. the SQLite file lock a server holds (store.file_lock)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def compiled_statements(self) -> CompiledStatements:
        """The fast statements compiled so far (``acmeca.store.compiled``)."""
        return self._compiled

    @property
    def url(self) -> URL:
        return self.engine.url

    @classmethod
    def connect(cls, settings: DatabaseSettings) -> Database:
        url = make_url(settings.url)
        if url.get_backend_name() == "sqlite":
            busy = settings.busy_timeout.total_seconds()
            engine = create_async_engine(url, poolclass=NullPool, connect_args={"timeout": busy})
            _configure_sqlite(engine.sync_engine, busy)
            sqlite = sa.create_engine(
                url.set(drivername="sqlite+pysqlite"), pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_SIZE,
                connect_args={"timeout": busy, "check_same_thread": False},
            )
            _configure_sqlite(sqlite, busy, in_place=True)
            return cls(engine, sqlite, busy_timeout=settings.busy_timeout)
        # Up to 2 × poolSize connections, each kept once opened: with overflow connections (closed again on
        # return whenever the pool is full), a burst wider than the pool paid a new PostgreSQL backend, asyncpg's
        # type introspection and a fresh prepare of every statement per checkout, about a third of the CPU an
        # ACME order cost on both sides. The ceiling a server can open is what it always was.
        engine = create_async_engine(
            url, pool_size=2 * settings.pool_size, max_overflow=0, pool_timeout=settings.pool_timeout.total_seconds(),
        )
        _ping_idle_connections(engine.sync_engine.pool, settings.ping_after_idle.total_seconds())
        return cls(engine)

    def release_on_close(self, release: Callable[[], None]) -> None:
        """Run ``release`` once the connections are closed: what the caller holds for as long as it uses us."""
        self._on_close.append(release)

    async def close(self) -> None:
        for shared in (self._sqlite_reader, self._sqlite_writer):
            if shared is not None:
                shared.close()
        self._sqlite_reader = self._sqlite_writer = None
        if self._sqlite is not None:
            self._sqlite.dispose()
        await self.engine.dispose()
        while self._on_close:
            self._on_close.pop()()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Transaction]:
        """A write transaction: committed on success, rolled back on any exception."""
        async with self._outage_boundary() as phase:
            if self._sqlite is not None:
                async with self._writer_slot():
                    writer = self._shared_writer()
                    await _begin_immediate(writer, self._busy_seconds)
                    with _driver_transaction(writer), phase.body():
                        yield InPlaceTransaction(writer, self._compiled)
                return
            async with self._reader.connect() as conn, driver_session(conn, transaction=True) as session:
                with phase.body():
                    yield PostgresTransaction(conn, session, self._compiled)

    @asynccontextmanager
    async def write_one(self) -> AsyncIterator[Transaction]:
        """For a write that is a single statement, atomic on its own: on PostgreSQL it runs in autocommit,
        which saves the BEGIN and COMMIT round trips; on SQLite it is an ordinary :meth:`write`."""
        if self._sqlite is not None:
            async with self.write() as tx:
                yield tx
            return
        async with self._outage_boundary() as phase, self._pg_session() as (conn, session):
            with phase.body():
                yield PostgresTransaction(conn, session, self._compiled)

    @asynccontextmanager
    async def _outage_boundary(self) -> AsyncIterator[_Phase]:
        """Where driver failures become ``ServiceUnavailable``: an outage is recorded in ``availability`` and
        raised as one; anything else is raised as it is. Which failures are outages depends on whether the
        caller's statements had begun (``phase.body()``): a bare OSError while connecting or committing is."""
        phase = _Phase()
        began = self.availability.attempt()
        try:
            yield phase
        except Exception as exc:
            if not is_outage(exc, connecting=not phase.in_body):
                raise
            raise self.availability.failed(exc, began) from exc

    @asynccontextmanager
    async def _pg_session(self) -> AsyncIterator[tuple[AsyncConnection, DriverSession]]:
        """A pooled PostgreSQL connection in autocommit: each statement its own transaction."""
        async with self._reader.connect() as conn, driver_session(conn, transaction=False) as session:
            yield conn, session

    def _shared_writer(self) -> sa.Connection:
        assert self._sqlite is not None
        if self._sqlite_writer is None or self._sqlite_writer.closed or self._sqlite_writer.invalidated:
            # Its transactions are begun and ended on the driver (_driver_transaction); SQLAlchemy's own
            # autobegin must emit nothing, like the shared reader's.
            self._sqlite_writer = self._sqlite.connect().execution_options(sqlite_begin=None)
            # Its BEGIN IMMEDIATE waits for another process's write lock on the event loop (_begin_immediate),
            # not in SQLite's busy handler, which would sleep with the whole loop stopped.
            driver = self._sqlite_writer.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA busy_timeout=0")
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
    async def read(self) -> AsyncIterator[Transaction]:
        """Reads outside a transaction: PostgreSQL autocommit (each statement its own READ COMMITTED snapshot,
        as inside one); on SQLite, one shared autocommit connection.

        SQLite statements run in place without yielding to the loop, so the statements a repository function
        runs back to back see one state of this process's data; a BEGIN/COMMIT pair and a pool checkout per
        read would cost more than the reads themselves. Reads hand back whole results, so no cursor (and no
        old snapshot) outlives the statement.
        """
        async with self._outage_boundary() as phase:
            if self._sqlite is not None:
                reader = self._shared_reader()
                with phase.body():
                    yield InPlaceTransaction(reader, self._compiled)
                return
            async with self._pg_session() as (conn, session):
                with phase.body():
                    yield PostgresTransaction(conn, session, self._compiled)

    async def probe(self) -> None:
        """One cheap check that the database serves, reported to ``availability`` (ends or starts an outage).

        PostgreSQL: SELECT 1 on a pooled connection within PROBE_TIMEOUT (an exhausted pool counts as down).
        SQLite: SELECT 1 would not even read the file, so a fresh connection opens the file (never creating
        it) and takes the write lock for a moment, in a thread and within the busy timeout; that is what a
        write needs, and it cannot block the event loop.
        """
        began = self.availability.attempt()
        try:
            if self._sqlite is not None:
                await asyncio.to_thread(_probe_sqlite, self.url.database or "", self._busy_seconds)
            else:
                async with asyncio.timeout(PROBE_TIMEOUT), self.engine.connect() as conn:
                    await conn.exec_driver_sql("SELECT 1")
        except Exception as exc:  # the probe does nothing but touch the database: every failure is an outage
            self.availability.probe_failed(exc, began)
            return
        self.availability.probed(began)

    async def watch(self, interval: float = PROBE_INTERVAL) -> None:
        """Probe every ``interval`` seconds for the life of the process: what ``/health`` reports."""
        while True:
            await self.probe()
            await asyncio.sleep(interval)


class _Phase:
    """Whether a transaction's caller is running its statements (versus connecting, beginning or committing)."""

    def __init__(self) -> None:
        self.in_body = False

    @contextmanager
    def body(self) -> Iterator[None]:
        self.in_body = True
        yield
        self.in_body = False  # only on success: a failure inside the body keeps it marked


async def _begin_immediate(writer: sa.Connection, busy_seconds: float) -> None:
    """``BEGIN IMMEDIATE`` on the shared writer, waiting up to ``busy_seconds`` for the write lock.

    Another process (a ``--workers`` sibling, an offline command) may hold the lock. SQLite's own busy
    handler would wait inside the call, sleeping 1, 2, 5, 10 ... 100 ms with this process's event loop
    stopped; here the loop keeps serving while we poll in short steps, since write transactions on the
    request path hold the lock for well under a millisecond. Past ``busy_seconds`` SQLite's own "database is
    locked" error goes up, an outage as before (``acmeca.store.outages``).
    """
    driver = writer.connection.driver_connection
    assert driver is not None
    deadline: float | None = None
    pause = _FIRST_LOCK_POLL
    while True:
        try:
            driver.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF != _SQLITE_BUSY:
                raise
            now = time.monotonic()
            deadline = now + busy_seconds if deadline is None else deadline
            if now >= deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, _LAST_LOCK_POLL)


@contextmanager
def _driver_transaction(writer: sa.Connection) -> Iterator[None]:
    """(``BEGIN IMMEDIATE`` already run by ``_begin_immediate``) ... ``COMMIT``, or ``ROLLBACK`` on any
    exception, straight on the sqlite3 connection.

    SQLAlchemy's begin/commit machinery (events, transaction objects) cost more than the two statements on
    the request path; statements SQLAlchemy runs inside still see the transaction, since it is the same
    connection, and savepoints nest in it as before.
    """
    driver = writer.connection.driver_connection
    assert driver is not None
    try:
        yield
    except BaseException:
        if driver.in_transaction:  # SQLite may already have rolled back (a full disk, say)
            driver.execute("ROLLBACK")
        raise
    try:
        driver.execute("COMMIT")
    except BaseException:
        if driver.in_transaction:  # a COMMIT that failed leaves the transaction open: end it
            driver.execute("ROLLBACK")
        raise


def _probe_sqlite(path: str, busy_seconds: float) -> None:
    if not path or path == ":memory:":
        return
    connection = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=busy_seconds, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def _ping_idle_connections(pool: sa.Pool, idle_seconds: float) -> None:
    """Ping a pooled connection on checkout only when it sat idle for ``idle_seconds``.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: a round trip (and backend work) per transaction,
    about a quarter of the CPU an ACME request costs on PostgreSQL. A connection that was in use a moment ago
    is as alive as a ping would show; one that waited out a restart of the cluster (an outage lasts longer
    than a second) is pinged, and a failed ping makes the pool replace it, as pre-ping would.
    """

    @event.listens_for(pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["acmeca_idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("acmeca_idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return  # just connected, or in use a moment ago
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise sa.exc.DisconnectionError(str(exc)) from exc


def _configure_sqlite(engine: sa.Engine, busy_seconds: float, *, in_place: bool = False) -> None:
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
        cursor.execute(f"PRAGMA busy_timeout={round(busy_seconds * 1000)}")
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
