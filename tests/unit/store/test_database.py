"""Transaction discipline of acmeca.store.database on both backends."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from acmeca.store.database import Database
from acmeca.store.schema import settings


async def _value(database: Database, name: str) -> str | None:
    async with database.read() as conn:
        value = await conn.scalar(sa.select(settings.c.value).where(settings.c.name == name))
        return str(value) if value is not None else None


async def test_a_half_read_result_never_pins_a_stale_snapshot(database: Database) -> None:
    async with database.write() as conn:
        await conn.execute(settings.insert(), [{"name": "a", "value": "1"}, {"name": "b", "value": "1"}])
    async with database.read() as conn:
        result = await conn.execute(sa.select(settings).order_by(settings.c.name))
        assert result.first() is not None  # and the rest is never read
    async with database.write() as conn:
        await conn.execute(settings.update().values(value="2"))
    assert await _value(database, "a") == "2"
    assert await _value(database, "b") == "2"


async def test_read_modify_write_transactions_do_not_lose_updates(database: Database) -> None:
    async with database.write() as conn:
        await conn.execute(settings.insert().values(name="counter", value="0"))

    async def increment() -> None:
        async with database.write() as conn:
            query = sa.select(settings.c.value).where(settings.c.name == "counter").with_for_update()
            current = int(await conn.scalar(query))
            await asyncio.sleep(0)  # let the others try to interleave
            await conn.execute(settings.update().where(settings.c.name == "counter").values(value=str(current + 1)))

    await asyncio.gather(*(increment() for _ in range(20)))
    assert await _value(database, "counter") == "20"
