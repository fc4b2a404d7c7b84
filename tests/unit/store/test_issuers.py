"""The issuers table: every start of every replica records the CA certificates, racing ones included."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from acmeca.store import issuers
from acmeca.store.database import Database
from acmeca.store.schema import issuers as issuers_table

NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def _ensure(database: Database) -> None:
    async with database.write() as tx:
        await issuers.ensure(tx, ski="ab" * 20, subject="CN=Test Intermediate CA", der=b"\x30\x00", is_root=False,
                             not_before=NOW, not_after=NOW + timedelta(days=1), at=NOW)


async def test_replicas_recording_the_same_issuer_together_both_succeed(database: Database) -> None:
    await asyncio.gather(*(_ensure(database) for _ in range(4)))
    await _ensure(database)  # and every later start
    async with database.read() as tx:
        assert await tx.scalar(sa.select(sa.func.count()).select_from(issuers_table)) == 1
        assert await issuers.der_by_ski(tx, "ab" * 20) == b"\x30\x00"
