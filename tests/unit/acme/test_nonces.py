"""Nonces: verifiable by every replica sharing the database, spendable once, swept after expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from acmeca.acme.service.nonces import NonceService
from acmeca.domain.clock import FrozenClock
from acmeca.domain.errors import BadNonce
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
