"""ACME External Account Binding keys (RFC 8555 §7.3.4): one HMAC key binds exactly one account.

Binding is a conditional UPDATE (``account_id IS NULL``) so two newAccount requests racing with the same key
cannot both bind it; the loser sees the key as already bound.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from acmeca.domain.acme import EabKeyRecord
from acmeca.domain.errors import Conflict, NotFound
from acmeca.store.database import Database
from acmeca.store.schema import eab_keys


def _record(row: sa.Row[Any]) -> EabKeyRecord:
    return EabKeyRecord(
        id=row.id, provisioner_id=row.provisioner_id, reference=row.reference, hmac_key=bytes(row.hmac_key),
        created_at=row.created_at, account_id=row.account_id, bound_at=row.bound_at,
    )


async def bind(conn: AsyncConnection, key_id: str, account_id: str, at: datetime) -> bool:
    """Bind inside the caller's (newAccount) transaction; False when the key is gone or already bound."""
    result = await conn.execute(
        eab_keys.update()
        .where(eab_keys.c.id == key_id, eab_keys.c.account_id.is_(None))
        .values(account_id=account_id, bound_at=at)
    )
    return result.rowcount == 1


class EabKeyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, record: EabKeyRecord) -> EabKeyRecord:
        try:
            async with self._db.write() as conn:
                await conn.execute(
                    eab_keys.insert().values(
                        id=record.id, provisioner_id=record.provisioner_id, reference=record.reference,
                        hmac_key=record.hmac_key, created_at=record.created_at,
                    )
                )
        except IntegrityError:
            raise Conflict(f"an ACME EAB key with reference {record.reference!r} already exists") from None
        return record

    async def get(self, key_id: str) -> EabKeyRecord | None:
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(eab_keys).where(eab_keys.c.id == key_id))).first()
        return _record(row) if row else None

    async def by_reference(self, provisioner_id: str, reference: str) -> EabKeyRecord | None:
        async with self._db.read() as conn:
            query = sa.select(eab_keys).where(
                eab_keys.c.provisioner_id == provisioner_id, eab_keys.c.reference == reference
            )
            row = (await conn.execute(query)).first()
        return _record(row) if row else None

    async def page(self, provisioner_id: str, *, cursor: str = "", limit: int = 100) -> list[EabKeyRecord]:
        """Keys ordered by id, starting after ``cursor``."""
        async with self._db.read() as conn:
            query = (
                sa.select(eab_keys)
                .where(eab_keys.c.provisioner_id == provisioner_id, eab_keys.c.id > cursor)
                .order_by(eab_keys.c.id)
                .limit(limit)
            )
            return [_record(r) for r in await conn.execute(query)]

    async def delete(self, provisioner_id: str, key_id: str) -> None:
        async with self._db.write() as conn:
            result = await conn.execute(
                eab_keys.delete().where(eab_keys.c.provisioner_id == provisioner_id, eab_keys.c.id == key_id)
            )
        if result.rowcount != 1:
            raise NotFound(f"ACME EAB key {key_id} not found")
