"""Persistence for GCRA rate-limit buckets: one row per key holding its theoretical arrival time (TAT).

Every decision is a compare-and-set on that row, so any number of replicas sharing the database enforce one
limit together.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from acmeca.store.schema import rate_limits
from acmeca.store.transaction import Transaction

_CREATE = {
    "postgresql": postgresql.insert(rate_limits).on_conflict_do_nothing(index_elements=["key"]),
    "sqlite": sqlite.insert(rate_limits).on_conflict_do_nothing(index_elements=["key"]),
}


async def peek(tx: Transaction, key: str) -> datetime | None:
    value = await tx.scalar(sa.select(rate_limits.c.tat).where(rate_limits.c.key == key))
    return value if isinstance(value, datetime) else None


async def compare_and_set(
    tx: Transaction, key: str, expected: datetime | None, new_tat: datetime, expires_at: datetime
) -> bool:
    """Store ``new_tat`` if the bucket still holds ``expected`` (None: no bucket yet); False when another
    writer won."""
    if expected is None:
        created = await tx.execute(_CREATE[tx.dialect], {"key": key, "tat": new_tat, "expires_at": expires_at})
        return created == 1
    touched = await tx.execute(
        rate_limits.update()
        .where(rate_limits.c.key == key, rate_limits.c.tat == expected)
        .values(tat=new_tat, expires_at=expires_at)
    )
    return touched == 1


async def sweep(tx: Transaction, now: datetime) -> int:
    return await tx.execute(rate_limits.delete().where(rate_limits.c.expires_at < now))
