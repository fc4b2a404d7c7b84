"""The request path's shortcuts: fast statements straight on the driver (sqlite3, asyncpg), PostgreSQL reads
without BEGIN, pings only after idling."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import pkgutil
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg
from sqlalchemy.dialects.sqlite import pysqlite

import acmeca.store
from acmeca.config import parse_database
from acmeca.domain.errors import ServiceUnavailable
from acmeca.store.compiled import CompiledRead, CompiledWrite
from acmeca.store.database import Database, database_settings
from acmeca.store.schema import certificates, settings, used_nonces
from acmeca.store.transaction import FAST_READ, FAST_WRITE, fast_read, fast_write

MOMENT = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)
_INSERT = fast_write(settings.insert())
_UPSERTS = {
    "sqlite": fast_write(sqlite.insert(used_nonces).on_conflict_do_nothing(index_elements=["nonce"])),
    "postgresql": fast_write(postgresql.insert(used_nonces).on_conflict_do_nothing(index_elements=["nonce"])),
}
_RENAME = fast_write(
    settings.update().where(settings.c.name == sa.bindparam("old")).values(value=sa.bindparam("new_value"))
)
_VALUES = fast_read(sa.select(settings.c.name, settings.c.value).order_by(settings.c.name))


async def test_fast_writes_do_what_the_ordinary_path_does(database: Database) -> None:
    async with database.write() as tx:
        many = await tx.execute(_INSERT, [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}])
        assert many == (2 if database.dialect == "sqlite" else -1)  # asyncpg counts no executemany rows
        assert await tx.execute(_INSERT, {"name": "c", "value": "3"}) == 1
        assert await tx.execute(_RENAME, {"old": "b", "new_value": "20"}) == 1
        assert await tx.execute(_RENAME, {"old": "nope", "new_value": "0"}) == 0
        with pytest.raises(sa.exc.IntegrityError):  # wrapped as SQLAlchemy wraps it: callers catch the same class
            async with tx.savepoint():
                await tx.execute(_INSERT, {"name": "a", "value": "again"})
        assert [tuple(r) for r in await tx.all(_VALUES)] == [("a", "1"), ("b", "20"), ("c", "3")]
    spend = _UPSERTS[database.dialect]
    async with database.write() as tx:
        assert await tx.execute(spend, {"nonce": "n1", "expires_at": MOMENT}) == 1
        assert await tx.execute(spend, {"nonce": "n1", "expires_at": MOMENT}) == 0  # DO NOTHING: 0 rows
        stored = await tx.scalar(sa.select(used_nonces.c.expires_at))
    assert stored == MOMENT  # bound by the DateTime type's own processor, read back identically
    ran = database.compiled_statements.compiled_writes()
    assert {id(w.statement) for w in ran} >= {id(_INSERT), id(_RENAME), id(spend)}  # the fast path ran


async def test_a_fast_insert_returning_hands_back_the_new_id(database: Database) -> None:
    reserve = fast_write(certificates.insert().returning(certificates.c.id))
    row = {
        "serial": "1", "state": "reserved", "issuer_ski": "ab", "der": None, "spki_sha256": "cd", "common_name": None,
        "profile": "leaf", "requester_kind": "acme", "requester_id": "a", "provisioner_id": "p",
        "provisioner_name": "acme", "acme_account_id": None, "acme_order_id": None, "not_before": MOMENT,
        "not_after": MOMENT, "created_at": MOMENT, "renewed_from": None,
    }
    async with database.write() as tx:
        first = await tx.scalar(reserve, row)
        second = await tx.scalar(reserve, {**row, "serial": "2"})
        assert await tx.scalars(sa.select(certificates.c.id).order_by(certificates.c.id)) == [first, second]
        with pytest.raises(sa.exc.IntegrityError):
            async with tx.savepoint():
                await tx.scalar(reserve, row)  # the serial is taken


def _marked_writes() -> list[tuple[str, sa.Insert | sa.Update | sa.Delete]]:
    found = []
    for module in pkgutil.iter_modules(acmeca.store.__path__):
        for name, value in vars(importlib.import_module(f"acmeca.store.{module.name}")).items():
            for statement in value.values() if isinstance(value, dict) else [value]:
                if isinstance(statement, sa.Insert | sa.Update | sa.Delete) and statement.get_execution_options().get(
                    FAST_WRITE
                ):
                    found.append((f"{module.name}.{name}", statement))
    return found


@pytest.mark.parametrize("dialect", [pysqlite.dialect(), pg_asyncpg.dialect()], ids=["sqlite", "asyncpg"])
def test_every_write_the_store_marks_runs_on_the_fast_path(dialect: sa.Dialect) -> None:
    """A mark the fast path declines would silently cost the ordinary path again."""
    marked = _marked_writes()
    assert len(marked) >= 10
    for name, statement in marked:
        if isinstance(statement, sqlite.Insert | postgresql.Insert) and not isinstance(
            statement, sqlite.Insert if dialect.name == "sqlite" else postgresql.Insert
        ):
            continue  # the other backend's spelling of an upsert
        keys = tuple(c.name for c in statement.table.c) if isinstance(statement, sa.Insert) else ()
        assert CompiledWrite(statement, dialect, keys).supported, name


def test_writes_needing_the_execution_context_take_the_ordinary_path() -> None:
    dialect = pysqlite.dialect()
    table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("at", sa.String, default=lambda: "python-side"))  # fmt: skip
    assert not CompiledWrite(table.insert(), dialect, ("id",)).supported  # the default is computed in Python
    in_list = table.delete().where(table.c.id.in_(sa.bindparam("ids", expanding=True)))
    assert not CompiledWrite(in_list, dialect, ()).supported


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_postgresql_reads_run_without_a_transaction(database: Database) -> None:
    """(SQLite reads have always run in autocommit.)"""
    assert database.dialect == "postgresql"
    async with database.read() as tx:
        first = await tx.scalar(sa.text("SELECT txid_current()"))
        second = await tx.scalar(sa.text("SELECT txid_current()"))
    assert first != second  # each statement was its own transaction: no BEGIN/COMMIT round trips
    async with database.write() as tx:
        first = await tx.scalar(sa.text("SELECT txid_current()"))
        assert await tx.scalar(sa.text("SELECT txid_current()")) == first


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_a_connection_that_idled_past_the_ping_window_is_pinged_and_replaced(ca_db: dict[str, Any]) -> None:
    """(Pooled connections are PostgreSQL's.)"""
    settings_ = dataclasses.replace(database_settings(parse_database(ca_db)), ping_after_idle=timedelta(0))
    database = Database.connect(settings_)
    try:
        async with database.read() as tx:
            pid = await tx.scalar(sa.text("SELECT pg_backend_pid()"))
        killer = await asyncpg.connect(ca_db["dataSource"])
        try:
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await killer.close()
        async with database.read() as tx:  # the pooled connection is dead: the ping notices, the pool replaces it
            assert await tx.scalar(sa.text("SELECT pg_backend_pid()")) != pid
    finally:
        await database.close()


@pytest.mark.parametrize("failure", [RuntimeError("body failed"), asyncio.CancelledError()])
async def test_a_failed_write_leaves_nothing_behind_and_the_next_one_works(
    database: Database, failure: BaseException
) -> None:
    async def failing() -> None:
        async with database.write() as tx:
            await tx.execute(_INSERT, {"name": "fast", "value": "1"})  # the fast path
            await tx.execute(settings.insert().values(name="ordinary", value="1"))  # SQLAlchemy's path
            raise failure

    with pytest.raises(type(failure)):
        await failing()
    async with database.write() as tx:
        assert await tx.all(_VALUES) == []
        await tx.execute(settings.insert().values(name="ordinary", value="2"))
        await tx.execute(_INSERT, {"name": "fast", "value": "2"})
    async with database.read() as tx:
        assert [tuple(r) for r in await tx.all(_VALUES)] == [("fast", "2"), ("ordinary", "2")]


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_a_backend_killed_inside_a_write_is_an_outage_and_its_connection_is_replaced(
    ca_db: dict[str, Any],
) -> None:
    """The fast path runs on the asyncpg connection itself: a connection lost under it must count as the
    database being unavailable (503 at every edge), and must never go back to the pool."""
    database = Database.connect(database_settings(parse_database(ca_db)))
    backend: list[int] = []

    async def write_while_the_backend_is_killed() -> None:
        async with database.write() as tx:
            backend.append(await tx.scalar(sa.text("SELECT pg_backend_pid()")))
            await tx.execute(_INSERT, {"name": "lost", "value": "1"})
            killer = await asyncpg.connect(ca_db["dataSource"])
            try:
                assert await killer.fetchval("SELECT pg_terminate_backend($1)", backend[0])
            finally:
                await killer.close()
            await asyncio.sleep(0.05)
            await tx.all(_VALUES)  # the fast path meets the closed connection

    try:
        with pytest.raises(ServiceUnavailable):
            await write_while_the_backend_is_killed()
        async with database.read() as tx:
            assert await tx.scalar(sa.text("SELECT pg_backend_pid()")) != backend[0]
            assert await tx.all(_VALUES) == []  # the lost transaction's write was never committed
    finally:
        await database.close()


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_fast_and_ordinary_statements_share_one_postgresql_transaction(database: Database) -> None:
    async with database.write() as tx:
        xid = await tx.scalar(sa.text("SELECT txid_current()"))
        await tx.execute(_INSERT, {"name": "fast", "value": "1"})
        assert await tx.scalar(sa.text("SELECT txid_current()")) == xid
        assert [tuple(r) for r in await tx.all(_VALUES)] == [("fast", "1")]  # fast read sees the fast write
        assert await tx.scalar(sa.select(sa.func.count()).select_from(settings)) == 1  # and so does SQLAlchemy
    assert database.compiled_statements.compiled_writes()


_SLEEP_FAST = fast_read(sa.select(sa.func.pg_sleep(sa.bindparam("seconds", type_=sa.Float))))


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
@pytest.mark.parametrize("path", ["fast", "ordinary"])
async def test_a_write_cancelled_mid_statement_stays_cancelled_and_the_pool_recovers(
    database: Database, path: str
) -> None:
    """Shutdown cancels background loops in the middle of a statement: the cancellation must reach them as
    one (not turn into a database error that a loop would log and retry), and the connection it left
    mid-operation must never serve another request."""
    started = asyncio.Event()

    async def slow_write() -> None:
        async with database.write() as tx:
            await tx.execute(_INSERT, {"name": "cancelled", "value": "1"})
            started.set()
            if path == "fast":
                await tx.scalar(_SLEEP_FAST, {"seconds": 5})
            else:
                await tx.scalar(sa.text("SELECT pg_sleep(5)"))

    task = asyncio.create_task(slow_write())
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(3):  # every pooled connection handed out now works
        async with database.write() as tx:
            assert await tx.all(_VALUES) == []  # the cancelled write left nothing behind


def test_every_read_the_store_marks_runs_on_the_postgresql_fast_path() -> None:
    """Including the one-statement moves (SELECTs over data-modifying CTEs) that PostgreSQL runs in autocommit."""
    from acmeca.store.acme_moves import _settle_order_statement

    dialect = pg_asyncpg.dialect()
    marked = [
        (f"{module.name}.{name}", statement)
        for module in pkgutil.iter_modules(acmeca.store.__path__)
        for name, value in vars(importlib.import_module(f"acmeca.store.{module.name}")).items()
        for statement in (value.values() if isinstance(value, dict) else [value])
        if isinstance(statement, sa.Select) and statement.get_execution_options().get(FAST_READ)
    ]
    marked.append(("acme_moves.settle_order", _settle_order_statement(("status", "updated_at"))))
    assert len(marked) >= 15
    for name, statement in marked:
        assert CompiledRead(statement, dialect).supported, name


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_connections_opened_for_a_burst_are_kept_for_the_next_one(ca_db: dict[str, Any]) -> None:
    """A burst wider than poolSize must not cost a new PostgreSQL backend per checkout ever after."""
    settings_ = dataclasses.replace(database_settings(parse_database(ca_db)), pool_size=2)
    database = Database.connect(settings_)

    async def backend_of_one_read() -> int:
        async with database.read() as tx:
            pid: int = await tx.scalar(sa.text("SELECT pg_backend_pid() FROM pg_sleep(0.2)"))
        return pid

    try:
        first = set(await asyncio.gather(*(backend_of_one_read() for _ in range(4))))
        second = set(await asyncio.gather(*(backend_of_one_read() for _ in range(4))))
    finally:
        await database.close()
    assert len(first) == 4  # 2 × poolSize at once
    assert second == first  # the same backends served the next burst


_CERTIFICATE_BY_ID = fast_read(sa.select(certificates.c.serial).where(certificates.c.id == sa.bindparam("id")))


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_a_parameter_the_driver_cannot_encode_is_a_statement_error_not_an_outage(database: Database) -> None:
    """Nothing was sent: the caller's mistake is a DataError (a 500 with its traceback, to be fixed), the
    connection stays usable and the database is not reported unavailable."""
    async with database.write() as tx:
        await tx.execute(_INSERT, {"name": "before", "value": "1"})
        with pytest.raises(sa.exc.DataError):
            await tx.scalar(_CERTIFICATE_BY_ID, {"id": "not a number"})
        await tx.execute(_INSERT, {"name": "after", "value": "2"})
    async with database.read() as tx:
        assert [tuple(r) for r in await tx.all(_VALUES)] == [("after", "2"), ("before", "1")]
    assert database.availability.available


class _StandInPooled:
    """A pooled connection whose driver is still open; only what DriverSession reads of it."""

    class _Driver:
        def is_closed(self) -> bool:
            return False

    def __init__(self) -> None:
        self.driver_connection = self._Driver()
        self.is_valid = True
        self.invalidated: list[BaseException] = []

    def invalidate(self, error: BaseException) -> None:
        self.invalidated.append(error)


class _ClientSideEncodingError(asyncpg.InterfaceError, ValueError):
    """What asyncpg raises for a parameter it cannot encode (its DataError is an InterfaceError and a ValueError)."""


@pytest.mark.parametrize(
    ("raised", "wrapper", "outage"),
    [
        # A server shutting down writes to an idle pooled connection; the next statement on it finds the
        # protocol mid-operation. asyncpg's InternalClientError cannot be provoked on demand, hence the stand-in.
        (asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
         sa.exc.OperationalError, True),
        (ConnectionResetError("reset by peer"), sa.exc.OperationalError, True),
        (_ClientSideEncodingError("invalid input for query argument $1"), sa.exc.DataError, False),
    ],
)
async def test_driver_failures_outside_postgresql_answers_are_classified(
    raised: Exception, wrapper: type[sa.exc.DBAPIError], outage: bool
) -> None:
    from acmeca.store.outages import is_outage
    from acmeca.store.postgres import DriverSession

    pooled = _StandInPooled()
    session = DriverSession(pooled)  # type: ignore[arg-type]

    async def failing(sql: str) -> None:
        raise raised

    with pytest.raises(wrapper) as caught:
        await session.run(failing, "SELECT 1")
    assert is_outage(caught.value, connecting=False) is outage
    assert session.unsettled is outage  # an unknown protocol state is never rolled back on and lent out
    session.invalidate_if_unsettled(caught.value)
    assert bool(pooled.invalidated) is outage
