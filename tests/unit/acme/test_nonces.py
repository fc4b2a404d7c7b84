"""Nonces: verifiable by every replica sharing the database, spendable once, swept after expiry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from acmeca.acme.service.nonces import NonceService
from acmeca.domain.clock import FrozenClock
from acmeca.domain.errors import BadNonce
from acmeca.store import nonces as nonces_store
from acmeca.store.database import Database
from acmeca.store.schema import used_nonces
from tests.support.metric_values import sample

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def test_a_nonce_from_one_replica_is_spent_once_anywhere(database: Database) -> None:
    clock = FrozenClock(NOW)
    first, second = NonceService(database, clock), NonceService(database, clock)
    nonce = await first.issue()
    assert "=" not in nonce
    rejected = sample("acmeca_nonce_rejections_total")
    await second.redeem(nonce)
    assert sample("acmeca_nonce_rejections_total") == rejected
    with pytest.raises(BadNonce, match="already used"):
        await first.redeem(nonce)
    assert sample("acmeca_nonce_rejections_total") == rejected + 1


@pytest.mark.parametrize("bad", ["", "short", "A" * 54, None, 42])
async def test_malformed_nonces(database: Database, bad: object) -> None:
    with pytest.raises(BadNonce):
        await NonceService(database, FrozenClock(NOW)).redeem(bad)


async def test_tampered_and_expired_nonces_never_reach_the_used_set(database: Database) -> None:
    clock = FrozenClock(NOW)
    service = NonceService(database, clock, lifetime=timedelta(minutes=5))
    nonce = await service.issue()
    flipped = nonce[:10] + ("A" if nonce[10] != "A" else "B") + nonce[11:]
    with pytest.raises(BadNonce, match="not issued"):
        await service.redeem(flipped)
    clock.advance(timedelta(minutes=6))
    with pytest.raises(BadNonce, match="expired"):
        await service.redeem(nonce)
    async with database.read() as tx:
        assert await tx.scalar(sa.select(sa.func.count()).select_from(used_nonces)) == 0


async def test_sweep_removes_only_expired_entries(database: Database) -> None:
    clock = FrozenClock(NOW)
    service = NonceService(database, clock, lifetime=timedelta(minutes=5))
    old = await service.issue()
    await service.redeem(old)
    clock.advance(timedelta(minutes=4))
    fresh = await service.issue()
    await service.redeem(fresh)
    clock.advance(timedelta(minutes=2))
    assert await service.sweep() == 1
    with pytest.raises(BadNonce):
        await service.redeem(fresh)


async def test_one_batch_spends_each_nonce_once_even_when_it_repeats(database: Database) -> None:
    service = NonceService(database, FrozenClock(NOW))
    nonces = [await service.issue() for _ in range(3)]
    await service.redeem(nonces[2])  # spent by an earlier batch
    outcomes = await asyncio.gather(  # queued together: one batch, one statement on PostgreSQL
        *(service.redeem(n) for n in [nonces[0], nonces[1], nonces[0], nonces[2]]), return_exceptions=True
    )
    assert outcomes[:2] == [None, None]
    assert [str(o) for o in outcomes[2:]] == ["the nonce was already used"] * 2
    async with database.read() as tx:
        assert set(await tx.scalars(sa.select(used_nonces.c.nonce))) == set(nonces)


async def test_spend_all_reports_each_nonce_of_a_batch_in_autocommit(database: Database) -> None:
    async with database.write_one() as tx:
        assert await nonces_store.spend_all(tx, [("a", NOW), ("b", NOW), ("a", NOW)]) == [True, True, False]
    async with database.write_one() as tx:
        assert await nonces_store.spend_all(tx, [("b", NOW), ("c", NOW)]) == [False, True]
