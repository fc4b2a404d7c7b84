"""The migrations build exactly the schema in acmeca/store/schema.py, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from acmeca.store.database import Database
from acmeca.store.migrate import SchemaMismatch, check_current, current_revision, head_revision, upgrade
from acmeca.store.schema import metadata, settings, used_tokens


async def test_migrated_database_matches_schema_module(database: Database) -> None:
    def diff(sync: sa.Connection) -> list[object]:
        context = MigrationContext.configure(sync, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with database.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == [], "schema.py changed without a migration: run alembic revision --autogenerate"


async def test_schema_is_at_head_and_upgrade_is_idempotent(database: Database) -> None:
    assert await current_revision(database) == head_revision()
    await check_current(database)
    assert await upgrade(database) == (head_revision(), head_revision())


async def test_unknown_newer_revision_is_refused(database: Database) -> None:
    async def set_revision(value: str) -> None:
        async with database.write() as tx:
            await tx.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": value})

    await set_revision("from_the_future")
    try:
        with pytest.raises(SchemaMismatch, match="newer"):
            await check_current(database)
        with pytest.raises(SchemaMismatch, match="newer"):
            await upgrade(database)
    finally:
        await set_revision(head_revision())  # the PostgreSQL database is shared by the session


async def test_times_come_back_aware_utc(database: Database) -> None:
    moment = datetime(2026, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    async with database.write() as tx:
        await tx.execute(used_tokens.insert().values(key="k", kind="test", expires_at=moment))
    async with database.read() as tx:
        stored = await tx.scalar(sa.select(used_tokens.c.expires_at))
    assert stored == moment
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    assert stored == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def test_write_transactions_roll_back_on_error(database: Database) -> None:
    async def insert_then_fail() -> None:
        async with database.write() as tx:
            await tx.execute(settings.insert().values(name="x", value="1"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await insert_then_fail()
    async with database.read() as tx:
        assert await tx.scalar(sa.select(sa.func.count()).select_from(settings)) == 0
