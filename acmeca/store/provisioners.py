"""Provisioners stored in the database (remote management); ca.json ones are merged in by the catalog."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from acmeca.domain.errors import Conflict, NotFound
from acmeca.domain.management import StoredProvisioner
from acmeca.store.schema import provisioners
from acmeca.store.transaction import Row, Transaction


def _record(row: Row) -> StoredProvisioner:
    return StoredProvisioner(
        id=row.id, name=row.name, type=row.type, document=dict(row.document),
        created_at=row.created_at, updated_at=row.updated_at,
    )


async def live(tx: Transaction) -> list[StoredProvisioner]:
    rows = await tx.all(
        sa.select(provisioners).where(provisioners.c.deleted_at.is_(None)).order_by(provisioners.c.created_at)
    )
    return [_record(r) for r in rows]


async def ever_stored(tx: Transaction) -> bool:
    """Whether the table has any row, deleted ones included: a CA that once kept its provisioners here."""
    return await tx.scalar(sa.select(provisioners.c.id).limit(1)) is not None


async def latest_change(tx: Transaction) -> datetime | None:
    """The newest create/update/delete time: replicas poll it to refresh their catalog cheaply."""
    value = await tx.scalar(
        sa.select(sa.func.max(sa.func.coalesce(provisioners.c.deleted_at, provisioners.c.updated_at)))
    )
    return value if isinstance(value, datetime) or value is None else None


async def create(tx: Transaction, record: StoredProvisioner) -> StoredProvisioner:
    try:
        await tx.execute(
            provisioners.insert().values(
                id=record.id, name=record.name, type=record.type, document=record.document,
                created_at=record.created_at, updated_at=record.updated_at,
            )
        )
    except IntegrityError:
        raise Conflict(f"provisioner with name {record.name} already exists") from None
    return record


async def update(tx: Transaction, record: StoredProvisioner) -> StoredProvisioner:
    try:
        touched = await tx.execute(
            provisioners.update()
            .where(provisioners.c.id == record.id, provisioners.c.deleted_at.is_(None))
            .values(name=record.name, document=record.document, updated_at=record.updated_at)
        )
    except IntegrityError:
        raise Conflict(f"provisioner with name {record.name} already exists") from None
    if touched != 1:
        raise NotFound(f"provisioner {record.name} not found")
    return record


async def delete(tx: Transaction, provisioner_id: str, *, at: datetime) -> None:
    touched = await tx.execute(
        provisioners.update()
        .where(provisioners.c.id == provisioner_id, provisioners.c.deleted_at.is_(None))
        .values(deleted_at=at, updated_at=at)
    )
    if touched != 1:
        raise NotFound("provisioner not found")
