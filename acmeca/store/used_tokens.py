"""One-time tokens already spent: the database is the replay guard, so a token is good once across restarts and
replicas.

A token is spent by inserting its reuse key; the primary key makes a second insert a no-op on every replica, so
exactly one request wins. Rows carry the token's own expiry and are swept after it: a replay past ``exp`` is
refused by the time check anyway.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite

from acmeca.store.schema import used_tokens
from acmeca.store.transaction import Transaction, fast_write

_SPEND = {
    "postgresql": postgresql.insert(used_tokens).on_conflict_do_nothing(index_elements=["key"]),
    "sqlite": fast_write(sqlite.insert(used_tokens).on_conflict_do_nothing(index_elements=["key"])),
}


async def spend(tx: Transaction, key: str, *, kind: str, expires_at: datetime) -> bool:
    """Record ``key`` as used; False when it had been used before."""
    return await tx.execute(_SPEND[tx.dialect], {"key": key, "kind": kind, "expires_at": expires_at}) == 1


async def sweep(tx: Transaction, now: datetime) -> int:
    """Forget tokens whose expiry has passed; returns how many rows went."""
    return await tx.execute(used_tokens.delete().where(used_tokens.c.expires_at < now))
