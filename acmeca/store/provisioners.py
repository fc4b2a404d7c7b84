"""Provisioners stored in the database (remote management); ca.json ones are merged in by the catalog."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from acmeca.domain.errors import Conflict, NotFound
from acmeca.domain.management import StoredProvisioner
from acmeca.store.database import Database
from acmeca.store.schema import provisioners


def _record(row: sa.Row[Any]) -> StoredProvisioner:
    return StoredProvisioner(
        id=row.id, name=row.name, type=row.type, document=dict(row.document),
        created_at=row.created_at, updated_at=row.updated_at,
    )


class ProvisionerRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list_live(self) -> list[StoredProvisioner]:
        async with self._db.read() as conn:
            rows = await conn.execute(
                sa.select(provisioners).where(provisioners.c.deleted_at.is_(None)).order_by(provisioners.c.created_at)
            )
            return [_record(r) for r in rows]

    async def latest_change(self) -> datetime | None:
        """The newest create/update/delete time: replicas poll it to refresh their catalog cheaply."""
        async with self._db.read() as conn:
            value = await conn.scalar(
                sa.select(sa.func.max(sa.func.coalesce(provisioners.c.deleted_at, provisioners.c.updated_at)))
            )
            return value if isinstance(value, datetime) or value is None else None

    async def create(self, record: StoredProvisioner) -> StoredProvisioner:
        try:
            async with self._db.write() as conn:
                await conn.execute(
                    provisioners.insert().values(
                        id=record.id, name=record.name, type=record.type, document=record.document,
                        created_at=record.created_at, updated_at=record.updated_at,
                    )
                )
        except IntegrityError:
            raise Conflict(f"provisioner with name {record.name} already exists") from None
        return record

    async def update(self, record: StoredProvisioner) -> StoredProvisioner:
        try:
            async with self._db.write() as conn:
                result = await conn.execute(
                    provisioners.update()
                    .where(provisioners.c.id == record.id, provisioners.c.deleted_at.is_(None))
                    .values(name=record.name, document=record.document, updated_at=record.updated_at)
                )
        except IntegrityError:
            raise Conflict(f"provisioner with name {record.name} already exists") from None
        if result.rowcount != 1:
            raise NotFound(f"provisioner {record.name} not found")
        return record

    async def delete(self, provisioner_id: str, *, at: datetime) -> None:
        async with self._db.write() as conn:
            result = await conn.execute(
                provisioners.update()
                .where(provisioners.c.id == provisioner_id, provisioners.c.deleted_at.is_(None))
                .values(deleted_at=at, updated_at=at)
            )
        if result.rowcount != 1:
            raise NotFound("provisioner not found")
