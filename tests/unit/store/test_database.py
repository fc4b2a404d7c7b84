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


async def test_fast_reads_decode_exactly_like_the_ordinary_path(database: Database) -> None:
    from datetime import UTC, datetime

    from acmeca.store.database import fast_read
    from acmeca.store.schema import acme_accounts

    moment = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)
    async with database.write() as conn:
        await conn.execute(acme_accounts.insert().values(
            id="a1", provisioner_id="p", key_thumbprint="t", jwk={"kty": "EC", "x": "1"}, status="valid",
            contact=["mailto:a@example.com"], tos_agreed=True, eab_binding=None, created_at=moment,
        ))
    plain = sa.select(acme_accounts).where(acme_accounts.c.id == sa.bindparam("id"))
    fast = fast_read(plain)
    async with database.read() as conn:
        expected = (await conn.execute(plain, {"id": "a1"})).one()
        got = (await conn.execute(fast, {"id": "a1"})).one()
        missing = (await conn.execute(fast, {"id": "nope"})).first()
        count = await conn.scalar(fast_read(sa.select(sa.func.count()).select_from(acme_accounts)))
    assert got._mapping == expected._mapping
    assert got.jwk == {"kty": "EC", "x": "1"}
    assert got.tos_agreed is True
    assert got.created_at == moment
    assert got.created_at.tzinfo is not None
    assert missing is None
    assert count == 1
