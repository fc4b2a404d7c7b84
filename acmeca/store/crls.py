"""Stored CRLs (every replica serves the same bytes) and the counters that number them.

A counter advances by compare-and-set; a caller that loses the race retries in a new transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from acmeca.domain.records import StoredCRL
from acmeca.store.schema import counters, crls
from acmeca.store.transaction import Transaction


async def advance_counter(tx: Transaction, name: str) -> int | None:
    """The counter's next value (1 for a new counter); None when another writer moved it first."""
    current = await tx.scalar(sa.select(counters.c.value).where(counters.c.name == name))
    if current is None:
        try:
            async with tx.savepoint():
                await tx.execute(counters.insert().values(name=name, value=1))
        except IntegrityError:
            return None
        return 1
    moved = await tx.execute(
        counters.update().where(counters.c.name == name, counters.c.value == current).values(value=current + 1)
    )
    return int(current) + 1 if moved == 1 else None


async def latest(tx: Transaction, issuer_ski: str) -> StoredCRL | None:
    row = await tx.first(sa.select(crls).where(crls.c.issuer_ski == issuer_ski))
    if row is None:
        return None
    return StoredCRL(row.issuer_ski, int(row.number), bytes(row.der), row.this_update, row.next_update)


async def store(tx: Transaction, crl: StoredCRL) -> None:
    """Keep the newest CRL only; an older number never overwrites a newer one."""
    moved = await tx.execute(
        crls.update()
        .where(crls.c.issuer_ski == crl.issuer_ski, crls.c.number < crl.number)
        .values(number=crl.number, der=crl.der, this_update=crl.this_update, next_update=crl.next_update)
    )
    if moved == 0:
        exists = await tx.scalar(sa.select(crls.c.number).where(crls.c.issuer_ski == crl.issuer_ski))
        if exists is None:
            await tx.execute(
                crls.insert().values(
                    issuer_ski=crl.issuer_ski, number=crl.number, der=crl.der, this_update=crl.this_update,
                    next_update=crl.next_update,
                )
            )
