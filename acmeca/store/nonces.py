"""The nonce secret and the used-nonce set.

The HMAC key lives in ``settings`` so every replica verifies every other's nonces; a nonce is spent by
inserting it into ``used_nonces``, whose primary key makes a replay fail on any replica: one write per request.
"""

from __future__ import annotations

from collections.abc import Sequence
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


# PostgreSQL spends a whole batch in one statement (one round trip, atomic without a transaction around it).
_SPEND_ALL = sa.text(
    "INSERT INTO used_nonces (nonce, expires_at)"
    " SELECT * FROM unnest(CAST(:nonces AS text[]), CAST(:expires AS timestamptz[]))"
    " ON CONFLICT (nonce) DO NOTHING RETURNING nonce"
).bindparams(
    sa.bindparam("nonces", type_=postgresql.ARRAY(sa.Text)),
    sa.bindparam("expires", type_=postgresql.ARRAY(sa.DateTime(timezone=True))),
)


async def spend_all(tx: Transaction, batch: Sequence[tuple[str, datetime]]) -> list[bool]:
    """Spend each nonce of ``batch``; for each, whether this call spent it (False: used before, or earlier in
    the same batch). Runs as one statement on PostgreSQL, so it needs no transaction (``Database.write_one``)."""
    if tx.dialect != "postgresql":
        return [await spend(tx, nonce, expires_at) for nonce, expires_at in batch]
    unique = dict(batch)  # a nonce twice in one batch (its expiry is part of it): only its first use may win
    inserted = set(await tx.scalars(_SPEND_ALL, {"nonces": list(unique), "expires": list(unique.values())}))
    won: list[bool] = []
    for nonce, _ in batch:
        won.append(nonce in inserted)
        inserted.discard(nonce)
    return won


async def sweep(tx: Transaction, now: datetime) -> int:
    return await tx.execute(used_nonces.delete().where(used_nonces.c.expires_at < now))
