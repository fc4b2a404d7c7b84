"""GCRA rate limits held in the database (SQLite and PostgreSQL), with a frozen clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from acmeca.acme.service.ratelimits import RateLimiter
from acmeca.config.acme import parse_limit
from acmeca.domain.clock import FrozenClock
from acmeca.domain.errors import RateLimited
from acmeca.store.database import Database
from tests.support.metric_values import sample

NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def test_burst_then_refill(database: Database) -> None:
    clock = FrozenClock(NOW)
    limiter = RateLimiter(database, clock)
    limit = parse_limit("newOrdersPerAccount", "3/3h")
    for _ in range(3):
        await limiter.spend(limit, "acct-1")
    with pytest.raises(RateLimited) as caught:
        await limiter.spend(limit, "acct-1")
    assert caught.value.retry_after == timedelta(hours=1)
    assert "newOrdersPerAccount of 3 per 3h0m0s" in caught.value.detail
    await limiter.spend(limit, "acct-2")  # buckets are per key
    clock.advance(timedelta(minutes=59))
    with pytest.raises(RateLimited):
        await limiter.check(limit, "acct-1")
    clock.advance(timedelta(minutes=1))
    await limiter.check(limit, "acct-1")
    await limiter.spend(limit, "acct-1")
    with pytest.raises(RateLimited):
        await limiter.spend(limit, "acct-1")


async def test_concurrent_spenders_never_exceed_the_limit(database: Database) -> None:
    limiter = RateLimiter(database, FrozenClock(NOW))
    limit = parse_limit("newAccountsPerIP", "5/1h")

    async def attempt() -> bool:
        try:
            await limiter.spend(limit, "192.0.2.1")
        except RateLimited:
            return False
        return True

    results = await asyncio.gather(*(attempt() for _ in range(12)))
    assert results.count(True) == 5


async def test_refusals_are_counted_but_a_recorded_event_is_not(database: Database) -> None:
    limiter = RateLimiter(database, FrozenClock(NOW))
    limit = parse_limit("failedValidationsPerAccountPerIdentifier", "1/1h")
    refusals = sample("acmeca_rate_limit_refusals_total")
    await limiter.spend(limit, "k")
    with pytest.raises(RateLimited):
        await limiter.spend(limit, "k", refusal=False)  # a failed validation recorded: no request turned away
    assert sample("acmeca_rate_limit_refusals_total") == refusals
    with pytest.raises(RateLimited):
        await limiter.check(limit, "k")
    with pytest.raises(RateLimited):
        await limiter.spend(limit, "k")
    assert sample("acmeca_rate_limit_refusals_total") == refusals + 2


async def test_no_limit_means_unlimited(database: Database) -> None:
    limiter = RateLimiter(database, FrozenClock(NOW))
    for _ in range(50):
        await limiter.spend(None, "x")
