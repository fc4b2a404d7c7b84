"""ACME rate limits with the generic cell rate algorithm (GCRA), held in the database.

A limit "N/period" lets a bucket absorb N requests at once and refills one every period/N. Each bucket is one
timestamp, its theoretical arrival time (TAT): a request at ``now`` is allowed while ``max(TAT, now) + interval``
stays within ``now + period``. Limits are per ACME provisioner and absent by default (an internal CA rarely
wants them); configured as ``"rateLimits": {"newOrdersPerAccount": "300/3h", ...}``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from acmeca import metrics
from acmeca.config import Limit
from acmeca.domain.clock import Clock
from acmeca.domain.durations import format_duration
from acmeca.domain.errors import RateLimited, ServiceUnavailable
from acmeca.store import rate_limits
from acmeca.store.database import Database

MAX_ATTEMPTS = 20


class RateLimiter:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def _peek(self, bucket: str) -> datetime | None:
        async with self._db.read() as tx:
            return await rate_limits.peek(tx, bucket)

    async def spend(self, limit: Limit | None, key: str, *, refusal: bool = True) -> None:
        """Take one token from ``key``'s bucket or raise RateLimited with the time until one is free.

        ``refusal=False``: the caller only records an event (a failed validation) and turns no request away,
        so a full bucket is not counted as a refused request.
        """
        if limit is None:
            return
        bucket = f"{limit.name}:{key}"
        for _ in range(MAX_ATTEMPTS):
            now = self._clock.now()
            stored = await self._peek(bucket)
            tat = max(stored or now, now)
            self._refuse_if_full(limit, tat, now, counted=refusal)
            new_tat = tat + limit.interval
            async with self._db.write() as tx:
                won = await rate_limits.compare_and_set(tx, bucket, stored, new_tat, expires_at=new_tat)
            if won:
                return
        raise ServiceUnavailable("rate limit bucket is too contended, try again")

    async def check(self, limit: Limit | None, key: str) -> None:
        """Raise RateLimited if spending now would fail, without spending (used before work that may fail)."""
        if limit is None:
            return
        now = self._clock.now()
        stored = await self._peek(f"{limit.name}:{key}")
        self._refuse_if_full(limit, max(stored or now, now), now)

    @staticmethod
    def _refuse_if_full(limit: Limit, tat: datetime, now: datetime, *, counted: bool = True) -> None:
        allowed_at = tat + limit.interval - limit.period
        if allowed_at > now:
            if counted:
                metrics.RATE_LIMIT_REFUSALS.inc()
            wait = allowed_at - now
            raise RateLimited(
                f"too many requests: limit {limit.name} of {limit.count} per {format_duration(limit.period)} "
                f"reached; retry after {format_duration(timedelta(seconds=int(wait.total_seconds()) + 1))}",
                retry_after=wait,
            )
