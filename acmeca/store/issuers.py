"""CA certificates we issue under or trust, keyed by subject key identifier (ARI's AKI lookup, chains)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from acmeca.store.schema import issuers
from acmeca.store.transaction import Transaction

_ENSURE = {
    "postgresql": postgresql.insert(issuers).on_conflict_do_nothing(index_elements=["ski"]),
    "sqlite": sqlite.insert(issuers).on_conflict_do_nothing(index_elements=["ski"]),
}


async def ensure(
    tx: Transaction, *, ski: str, subject: str, der: bytes, is_root: bool, not_before: datetime,
    not_after: datetime, at: datetime,
) -> None:
    """Record an issuer unless it is known already (every start, every replica).

    An insert that does nothing on conflict: replicas starting together on one database both try, and one wins.
    """
    await tx.execute(_ENSURE[tx.dialect], {
        "ski": ski, "subject": subject, "der": der, "is_root": is_root, "not_before": not_before,
        "not_after": not_after, "created_at": at,
    })


async def der_by_ski(tx: Transaction, ski: str) -> bytes | None:
    value = await tx.scalar(sa.select(issuers.c.der).where(issuers.c.ski == ski))
    return bytes(value) if value is not None else None
