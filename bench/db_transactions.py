"""CPU per database transaction on SQLite: acmeca's in-place path against aiosqlite through SQLAlchemy.

    .venv/bin/python -m bench.db_transactions

This is the measurement behind docs/storage.md: why the SQLite request path runs statements in place.
"""

from __future__ import annotations

import asyncio
import resource
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from acmeca.store.database import Database, DatabaseSettings
from acmeca.store.migrate import upgrade
from acmeca.store.schema import settings
from acmeca.store.transaction import fast_read

ROUNDS = 1000


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(label: str, step: Callable[[int], Awaitable[None]]) -> None:
    wall, cpu = time.perf_counter(), _cpu()
    for i in range(ROUNDS):
        await step(i)
    print(f"{label:<44} {(time.perf_counter() - wall) / ROUNDS * 1e3:7.3f} ms wall "
          f"{(_cpu() - cpu) / ROUNDS * 1e3:7.3f} ms cpu")


async def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        database = Database.connect(DatabaseSettings(url=url))
        await upgrade(database)
        async with database.write() as tx:
            await tx.execute(settings.insert().values(name="k", value="v"))
        query = sa.select(settings.c.value).where(settings.c.name == "k")
        fast_query = fast_read(sa.select(settings.c.value).where(settings.c.name == sa.bindparam("name")))

        async def in_place_read(_: int) -> None:
            async with database.read() as tx:
                await tx.scalar(query)

        async def fast_path_read(_: int) -> None:
            async with database.read() as tx:
                await tx.scalar(fast_query, {"name": "k"})

        async def in_place_write(i: int) -> None:
            async with database.write() as tx:
                await tx.execute(settings.update().where(settings.c.name == "k").values(value=str(i)))

        await _measure("acmeca read transaction (in place)", in_place_read)
        await _measure("acmeca write transaction (in place)", in_place_write)
        await _measure("acmeca fast_read transaction (in place)", fast_path_read)
        await database.close()

        threaded = create_async_engine(url)

        async def aiosqlite_read(_: int) -> None:
            async with threaded.connect() as conn, conn.begin():
                await conn.scalar(query)

        await _measure("aiosqlite read transaction (thread hand-off)", aiosqlite_read)
        await threaded.dispose()


if __name__ == "__main__":
    asyncio.run(main())
