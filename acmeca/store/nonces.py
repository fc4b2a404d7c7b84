"""The nonce secret and the used-nonce set.

The HMAC key lives in ``settings`` so every replica verifies every other's nonces; a nonce is spent by
inserting it into ``used_nonces``, whose primary key makes a replay fail on any replica: one write per request.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from acmeca.store.schema import settings, used_nonces
from acmeca.store.transaction import Transaction, fast_write


async def ensure_setting(tx: Transaction, name: str, value: str) -> str:
    """Store ``value`` under ``name`` unless one is there already; return the value that won."""
    insert = postgresql.insert if tx.dialect == "postgresql" else sqlite.insert
    statement = insert(settings).values(name=name, value=value).on_conflict_do_nothing(index_elements=["name"])
    await tx.execute(statement)
    stored = await tx.scalar(sa.select(settings.c.value).where(settings.c.name == name))
    return str(stored)


# One INSERT per ACME request: built once per dialect, executed with fresh parameters.
_SPEND = {
    "postgresql": postgresql.insert(used_nonces).on_conflict_do_nothing(index_elements=["nonce"]),
    "sqlite": fast_write(sqlite.insert(used_nonces).on_conflict_do_nothing(index_elements=["nonce"])),
}


async def spend(tx: Transaction, nonce: str, expires_at: datetime) -> bool:
    """Record ``nonce`` as used; False when it had been used before."""
    return await tx.execute(_SPEND[tx.dialect], {"nonce": nonce, "expires_at": expires_at}) == 1


async def sweep(tx: Transaction, now: datetime) -> int:
    return await tx.execute(used_nonces.delete().where(used_nonces.c.expires_at < now))
