"""Transaction discipline of acmeca.store.database on both backends."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from acmeca.store.database import Database
from acmeca.store.schema import acme_accounts, settings
from acmeca.store.transaction import fast_read

MOMENT = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)


async def _value(database: Database, name: str) -> str | None:
    async with database.read() as tx:
        value = await tx.scalar(sa.select(settings.c.value).where(settings.c.name == name))
        return str(value) if value is not None else None


@pytest.mark.parametrize("fast", [False, True])
async def test_a_first_row_read_never_pins_a_stale_snapshot(database: Database, fast: bool) -> None:
    async with database.write() as tx:
        await tx.execute(settings.insert(), [{"name": "a", "value": "1"}, {"name": "b", "value": "1"}])
    query = sa.select(settings).order_by(settings.c.name)
    async with database.read() as tx:
        assert await tx.first(fast_read(query) if fast else query) is not None  # and the rest is never read
    async with database.write() as tx:
        assert await tx.execute(settings.update().values(value="2")) == 2
    assert await _value(database, "a") == "2"
    assert await _value(database, "b") == "2"


async def test_read_modify_write_transactions_do_not_lose_updates(database: Database) -> None:
    async with database.write() as tx:
        await tx.execute(settings.insert().values(name="counter", value="0"))

    async def increment() -> None:
        async with database.write() as tx:
            query = sa.select(settings.c.value).where(settings.c.name == "counter").with_for_update()
            current = int(await tx.scalar(query))
            await asyncio.sleep(0)  # let the others try to interleave
            await tx.execute(settings.update().where(settings.c.name == "counter").values(value=str(current + 1)))

    await asyncio.gather(*(increment() for _ in range(20)))
    assert await _value(database, "counter") == "20"


async def test_a_savepoint_rolls_back_alone(database: Database) -> None:
    async with database.write() as tx:
        await tx.execute(settings.insert().values(name="kept", value="1"))
        with pytest.raises(sa.exc.IntegrityError):
            async with tx.savepoint():
                await tx.execute(settings.insert().values(name="kept", value="2"))
        await tx.execute(settings.insert().values(name="after", value="1"))
    assert await _value(database, "kept") == "1"
    assert await _value(database, "after") == "1"


async def _accounts(database: Database) -> None:
    async with database.write() as tx:
        for n, jwk in enumerate([{"kty": "EC", "x": "1"}, {"kty": "OKP", "x": "2"}]):
            await tx.execute(acme_accounts.insert().values(
                id=f"a{n}", provisioner_id="p", key_thumbprint=f"t{n}", jwk=jwk, status="valid",
                contact=["mailto:a@example.com"], tos_agreed=n == 0, eab_binding=None, created_at=MOMENT,
            ))


async def test_fast_reads_decode_exactly_like_the_ordinary_path(database: Database) -> None:
    await _accounts(database)
    plain = sa.select(acme_accounts).where(acme_accounts.c.id == sa.bindparam("id"))
    fast = fast_read(plain)
    every_plain = sa.select(acme_accounts).order_by(acme_accounts.c.id)
    every_fast = fast_read(every_plain)
    created = sa.select(acme_accounts.c.created_at).order_by(acme_accounts.c.id)
    async with database.read() as tx:
        expected, got = await tx.first(plain, {"id": "a0"}), await tx.first(fast, {"id": "a0"})
        expected_all, got_all = await tx.all(every_plain), await tx.all(every_fast)
        missing = await tx.first(fast, {"id": "nope"})
        count = await tx.scalar(fast_read(sa.select(sa.func.count()).select_from(acme_accounts)))
        jwk = await tx.scalar(fast_read(sa.select(acme_accounts.c.jwk).where(acme_accounts.c.id == "a1")))
        moments = await tx.scalars(fast_read(created))
        plain_moments = await tx.scalars(created)
    assert expected is not None
    assert got is not None
    if database.dialect == "sqlite":  # the fast path ran (PostgreSQL ignores the mark)
        assert isinstance(expected, sa.Row)
        assert not isinstance(got, sa.Row)
    assert tuple(got) == tuple(expected)
    assert tuple(got._fields) == tuple(expected._fields)
    assert [tuple(r) for r in got_all] == [tuple(r) for r in expected_all]
    assert got.jwk == {"kty": "EC", "x": "1"}
    assert got.tos_agreed is True
    assert got_all[1].tos_agreed is False
    assert got.created_at == MOMENT
    assert got.created_at.tzinfo is not None
    assert missing is None
    assert count == 2
    assert jwk == {"kty": "OKP", "x": "2"}
    assert moments == plain_moments == [MOMENT, MOMENT]


async def test_fast_reads_it_cannot_compile_take_the_ordinary_path(database: Database) -> None:
    await _accounts(database)
    in_list = fast_read(
        sa.select(acme_accounts.c.id)
        .where(acme_accounts.c.id.in_(sa.bindparam("ids", expanding=True)))
        .order_by(acme_accounts.c.id)
    )
    async with database.read() as tx:
        assert await tx.scalars(in_list, {"ids": ["a0", "a1", "zz"]}) == ["a0", "a1"]
        assert await tx.scalars(in_list, {"ids": ["a1"]}) == ["a1"]


def test_the_fast_path_compiles_simple_selects_and_declines_the_rest() -> None:
    from sqlalchemy.dialects.sqlite import pysqlite

    from acmeca.store.compiled import CompiledRead

    dialect = pysqlite.dialect()
    by_id = sa.select(acme_accounts).where(acme_accounts.c.id == sa.bindparam("id"))
    in_list = sa.select(acme_accounts.c.id).where(acme_accounts.c.id.in_(sa.bindparam("ids", expanding=True)))
    same_name_twice = sa.select(acme_accounts.c.id, acme_accounts.c.id.label("_hidden"))
    assert CompiledRead(by_id, dialect).supported
    assert CompiledRead(sa.select(sa.func.count()).select_from(acme_accounts), dialect).supported
    assert not CompiledRead(in_list, dialect).supported
    assert not CompiledRead(same_name_twice, dialect).supported


async def test_fast_reads_inside_a_write_see_its_own_writes(database: Database) -> None:
    by_name = fast_read(sa.select(settings.c.value).where(settings.c.name == sa.bindparam("name")))
    async with database.write() as tx:
        await tx.execute(settings.insert().values(name="mine", value="1"))
        assert await tx.scalar(by_name, {"name": "mine"}) == "1"
        await tx.execute(settings.update().where(settings.c.name == "mine").values(value="2"))
        assert await tx.scalars(by_name, {"name": "mine"}) == ["2"]

    async def change_then_fail() -> None:
        async with database.write() as tx:
            await tx.execute(settings.update().where(settings.c.name == "mine").values(value="3"))
            assert (await tx.first(by_name, {"name": "mine"})) == ("3",)
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError, match="roll back"):
        await change_then_fail()
    assert await _value(database, "mine") == "2"


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_writer_waiting_for_another_processs_sqlite_lock_leaves_the_loop_serving(database: Database) -> None:
    """With ``--workers``, a sibling process may hold SQLite's write lock: waiting for it must not stop this
    process's event loop (SQLite's own busy handler sleeps inside the call)."""
    other = sqlite3.connect(database.url.database or "", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # the other process's write transaction
        writing = asyncio.create_task(_write_setting(database, "after-the-lock"))
        await asyncio.sleep(0.05)
        assert not writing.done()  # still waiting, and the loop ran this coroutine meanwhile
        async with database.read() as tx:  # readers are served while the writer waits
            assert await tx.scalar(sa.select(settings.c.value).where(settings.c.name == "after-the-lock")) is None
        other.execute("COMMIT")
        await asyncio.wait_for(writing, timeout=10)
    finally:
        other.close()
    async with database.read() as tx:
        assert await tx.scalar(sa.select(settings.c.value).where(settings.c.name == "after-the-lock")) == "1"


async def _write_setting(database: Database, name: str) -> None:
    async with database.write() as tx:
        await tx.execute(settings.insert().values(name=name, value="1"))
