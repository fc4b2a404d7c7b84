"""Outages at the store boundary, on real databases: what leaves ``Database.read``/``write`` and the probe."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from acmeca.config import parse_database
from acmeca.domain.errors import ServiceUnavailable
from acmeca.store.database import Database, database_settings


def _connect(ca_db: dict[str, Any], **settings: Any) -> Database:
    return Database.connect(dataclasses.replace(database_settings(parse_database(ca_db)), **settings))


@pytest.fixture
async def short_busy(ca_db: dict[str, Any]) -> AsyncIterator[Database]:
    database = _connect(ca_db, busy_timeout=timedelta(milliseconds=50))
    yield database
    await database.close()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_lock_held_by_another_process_is_unavailable_and_the_probe_sees_it(
    short_busy: Database, ca_db: dict[str, Any]
) -> None:
    holder = sqlite3.connect(ca_db["dataSource"], isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ServiceUnavailable) as raised:
            async with short_busy.write() as tx:
                await tx.execute(sa.text("CREATE TABLE never (x)"))
        assert "database is locked" in str(raised.value.__cause__)
        assert not short_busy.availability.available
        await short_busy.probe()
        assert not short_busy.availability.available
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    await short_busy.probe()  # the failed write since the last probe keeps the outage open once more
    await short_busy.probe()
    assert short_busy.availability.available
    async with short_busy.read() as tx:
        assert await tx.scalar(sa.text("SELECT count(*) FROM sqlite_master WHERE name = 'never'")) == 0


async def test_failures_of_the_transaction_body_are_not_outages(database: Database) -> None:
    with pytest.raises(FileNotFoundError):
        async with database.write():
            raise FileNotFoundError(2, "a file the service wanted")
    with pytest.raises(sa_exc.ProgrammingError if database.dialect == "postgresql" else sa_exc.OperationalError):
        async with database.read() as tx:
            await tx.scalar(sa.text("SELECT x FROM no_such_table"))
    assert database.availability.available


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_an_exhausted_pool_is_unavailable_after_its_timeout(ca_db: dict[str, Any]) -> None:
    database = _connect(ca_db, pool_size=1, pool_timeout=timedelta(milliseconds=200))
    try:
        async with AsyncExitStack() as held:
            for _ in range(2):  # pool_size plus as many overflow connections
                await held.enter_async_context(database.read())
            with pytest.raises(ServiceUnavailable) as raised:
                async with database.read():
                    pass
            assert isinstance(raised.value.__cause__, sa_exc.TimeoutError)
            await database.probe()
            assert not database.availability.available
        await database.probe()
        assert database.availability.available
    finally:
        await database.close()


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_postgresql_unreachable_is_unavailable(ca_db: dict[str, Any]) -> None:
    url = sa.make_url(database_settings(parse_database(ca_db)).url).set(port=1)  # nothing listens on port 1
    database = Database.connect(dataclasses.replace(database_settings(parse_database(ca_db)),
                                                    url=url.render_as_string(hide_password=False)))
    try:
        with pytest.raises(ServiceUnavailable) as raised:
            async with database.write():
                pass
        assert isinstance(raised.value.__cause__, OSError)
        await asyncio.wait_for(database.probe(), timeout=10)
        assert not database.availability.available
    finally:
        await database.close()
