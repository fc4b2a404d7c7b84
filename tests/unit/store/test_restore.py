"""Sealing a restored database: what the lost history must not reopen (nonces, tokens, CRL numbers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from acmeca.acme.service.nonces import SECRET_SETTING, NonceService, new_secret
from acmeca.domain.clock import FrozenClock
from acmeca.domain.errors import BadNonce
from acmeca.domain.records import StoredCRL
from acmeca.engine.crl import crl_counter, next_number
from acmeca.store import crls, issuers, restore
from acmeca.store.database import Database
from acmeca.store.schema import counters, settings

NOW = datetime(2026, 6, 1, 12, 0, 30, 500_000, tzinfo=UTC)
FLOOR = int(NOW.timestamp())


async def _seal(database: Database, *names: str) -> restore.Sealed:
    async with database.write() as tx:
        return await restore.seal(tx, now=NOW, secrets={SECRET_SETTING: new_secret()}, crl_counter_names=names)


async def _counter(database: Database, name: str) -> int | None:
    async with database.read() as tx:
        value = await tx.scalar(sa.select(counters.c.value).where(counters.c.name == name))
    return None if value is None else int(value)


async def test_crl_numbers_continue_at_the_larger_of_restored_plus_one_and_the_floor(database: Database) -> None:
    async with database.write() as tx:
        await tx.execute(counters.insert(), [
            {"name": crl_counter("restored"), "value": 5},
            {"name": crl_counter("ahead"), "value": FLOOR + 100},
            {"name": "other", "value": 7},
        ])
        for ski, is_root in (("stored-issuer", False), ("root", True)):
            await issuers.ensure(tx, ski=ski, subject="CN=x", der=b"0", is_root=is_root, not_before=NOW,
                                 not_after=NOW + timedelta(days=1), at=NOW)
        await crls.store(tx, StoredCRL("restored", 5, b"crl", NOW, NOW + timedelta(hours=1)))
    sealed = await _seal(database, crl_counter("on-disk"))
    assert (sealed.crl_floor, sealed.restored_at) == (FLOOR, NOW.replace(microsecond=0) + timedelta(seconds=1))
    assert await next_number(database, crl_counter("restored")) == FLOOR + 1
    assert await next_number(database, crl_counter("ahead")) == FLOOR + 101
    assert await next_number(database, crl_counter("on-disk")) == FLOOR + 1  # no counter in the backup
    assert await next_number(database, crl_counter("stored-issuer")) == FLOOR + 1
    assert await _counter(database, crl_counter("root")) is None  # roots sign no CRLs here
    assert await _counter(database, "other") == 7
    async with database.read() as tx:
        assert await crls.latest(tx, "restored") is None, "a stored CRL carries the backup's older number"


async def test_the_restore_time_is_recorded_and_the_backup_mark_dropped(database: Database) -> None:
    async with database.write() as tx:
        assert await restore.restored_at(tx) is None
        await restore.put_setting(tx, restore.BACKUP_TAKEN_AT, NOW.isoformat())
    await _seal(database)
    async with database.read() as tx:
        # the next whole second: a token issued earlier in the restore's second (iat == its floor) is before it
        assert await restore.restored_at(tx) == NOW.replace(microsecond=0) + timedelta(seconds=1)
        assert await restore.backup_taken_at(tx) is None


async def test_nonces_issued_before_the_restore_are_refused(database: Database) -> None:
    clock = FrozenClock(NOW)
    before = await NonceService(database, clock).issue()
    async with database.read() as tx:
        old_key = await tx.scalar(sa.select(settings.c.value).where(settings.c.name == SECRET_SETTING))
    await _seal(database)
    restarted = NonceService(database, clock)  # a server starts on the restored database
    with pytest.raises(BadNonce, match="not issued by this CA"):
        await restarted.redeem(before)
    await restarted.redeem(await restarted.issue())
    async with database.read() as tx:
        assert await tx.scalar(sa.select(settings.c.value).where(settings.c.name == SECRET_SETTING)) != old_key
