"""Persistence for GCRA rate-limit buckets: one row per key holding its theoretical arrival time (TAT).

Every decision is a compare-and-set on that row, so any number of replicas sharing the database enforce one
limit together.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from acmeca.store.database import Database
from acmeca.store.schema import rate_limits


class RateLimitRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def peek(self, key: str) -> datetime | None:
        async with self._db.read() as conn:
            value = await conn.scalar(sa.select(rate_limits.c.tat).where(rate_limits.c.key == key))
            return value if isinstance(value, datetime) else None

    async def compare_and_set(self, key: str, expected: datetime | None, new_tat: datetime,
                              expires_at: datetime) -> bool:
        """Store ``new_tat`` if the bucket still holds ``expected``; False when another writer won."""
        try:
            async with self._db.write() as conn:
                if expected is None:
                    await conn.execute(rate_limits.insert().values(key=key, tat=new_tat, expires_at=expires_at))
                    return True
                result = await conn.execute(
                    rate_limits.update()
                    .where(rate_limits.c.key == key, rate_limits.c.tat == expected)
                    .values(tat=new_tat, expires_at=expires_at)
                )
                return result.rowcount == 1
        except IntegrityError:
            return False

    async def sweep(self, now: datetime) -> int:
        async with self._db.write() as conn:
            result = await conn.execute(rate_limits.delete().where(rate_limits.c.expires_at < now))
            return int(result.rowcount or 0)
