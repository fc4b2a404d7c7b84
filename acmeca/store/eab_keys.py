"""ACME External Account Binding keys (RFC 8555 §7.3.4): one HMAC key binds exactly one account.

Binding is a conditional UPDATE (``account_id IS NULL``) so two newAccount requests racing with the same key
cannot both bind it; the loser sees the key as already bound.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from acmeca.domain.acme import EabKeyRecord
from acmeca.domain.errors import Conflict, NotFound
from acmeca.store.schema import eab_keys
from acmeca.store.transaction import Row, Transaction


def _record(row: Row) -> EabKeyRecord:
    return EabKeyRecord(
        id=row.id, provisioner_id=row.provisioner_id, reference=row.reference, hmac_key=bytes(row.hmac_key),
        created_at=row.created_at, account_id=row.account_id, bound_at=row.bound_at,
    )


async def bind(tx: Transaction, key_id: str, account_id: str, at: datetime) -> bool:
    """Bind inside the caller's (newAccount) transaction; False when the key is gone or already bound."""
    touched = await tx.execute(
        eab_keys.update()
        .where(eab_keys.c.id == key_id, eab_keys.c.account_id.is_(None))
        .values(account_id=account_id, bound_at=at)
    )
    return touched == 1


async def create(tx: Transaction, record: EabKeyRecord) -> EabKeyRecord:
    try:
        await tx.execute(
            eab_keys.insert().values(
                id=record.id, provisioner_id=record.provisioner_id, reference=record.reference,
                hmac_key=record.hmac_key, created_at=record.created_at,
            )
        )
    except IntegrityError:
        raise Conflict(f"an ACME EAB key with reference {record.reference!r} already exists") from None
    return record


async def get(tx: Transaction, key_id: str) -> EabKeyRecord | None:
    row = await tx.first(sa.select(eab_keys).where(eab_keys.c.id == key_id))
    return _record(row) if row else None


async def by_reference(tx: Transaction, provisioner_id: str, reference: str) -> EabKeyRecord | None:
    row = await tx.first(
        sa.select(eab_keys).where(eab_keys.c.provisioner_id == provisioner_id, eab_keys.c.reference == reference)
    )
    return _record(row) if row else None


async def page(tx: Transaction, provisioner_id: str, *, cursor: str = "", limit: int = 100) -> list[EabKeyRecord]:
    """Keys ordered by id, starting after ``cursor``."""
    query = (
        sa.select(eab_keys)
        .where(eab_keys.c.provisioner_id == provisioner_id, eab_keys.c.id > cursor)
        .order_by(eab_keys.c.id)
        .limit(limit)
    )
    return [_record(r) for r in await tx.all(query)]


async def delete(tx: Transaction, provisioner_id: str, key_id: str) -> None:
    touched = await tx.execute(
        eab_keys.delete().where(eab_keys.c.provisioner_id == provisioner_id, eab_keys.c.id == key_id)
    )
    if touched != 1:
        raise NotFound(f"ACME EAB key {key_id} not found")
