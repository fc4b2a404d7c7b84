"""Administrators of the remote-management API: (subject, provisioner) pairs with a role.

Deletion is soft (``deleted_at``) so the audit trail can still name who an admin was. Every write that could
remove the last SUPER_ADMIN runs its check inside the caller's write transaction, so two concurrent demotions
cannot both pass the check and leave nobody able to manage the CA.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from acmeca.domain.errors import Conflict, Malformed, NotFound
from acmeca.domain.management import AdminRecord, AdminType
from acmeca.store.schema import admins
from acmeca.store.transaction import Row, Transaction


def _record(row: Row) -> AdminRecord:
    return AdminRecord(
        id=row.id, subject=row.subject, provisioner_id=row.provisioner_id, type=AdminType(row.type),
        created_at=row.created_at,
    )


_LIVE = admins.c.deleted_at.is_(None)


async def _super_admins(tx: Transaction) -> int:
    query = sa.select(sa.func.count()).select_from(admins).where(_LIVE, admins.c.type == AdminType.SUPER_ADMIN.value)
    return int(await tx.scalar(query) or 0)


async def live(tx: Transaction) -> list[AdminRecord]:
    rows = await tx.all(sa.select(admins).where(_LIVE).order_by(admins.c.created_at, admins.c.id))
    return [_record(r) for r in rows]


async def get(tx: Transaction, admin_id: str) -> AdminRecord:
    row = await tx.first(sa.select(admins).where(_LIVE, admins.c.id == admin_id))
    if row is None:
        raise NotFound(f"admin {admin_id} not found")
    return _record(row)


async def find(tx: Transaction, subjects: Sequence[str], provisioner_id: str) -> AdminRecord | None:
    """The admin one of ``subjects`` names on that provisioner (SUPER_ADMIN preferred)."""
    rows = await tx.all(
        sa.select(admins).where(_LIVE, admins.c.provisioner_id == provisioner_id, admins.c.subject.in_(subjects))
    )
    found = sorted((_record(r) for r in rows), key=lambda a: a.type is not AdminType.SUPER_ADMIN)
    return found[0] if found else None


async def count(tx: Transaction) -> int:
    return int(await tx.scalar(sa.select(sa.func.count()).select_from(admins).where(_LIVE)) or 0)


async def create(tx: Transaction, record: AdminRecord) -> AdminRecord:
    """Insert a new admin; the same subject on the same provisioner, or the same id, is a Conflict."""
    duplicate = await tx.scalar(
        sa.select(admins.c.id).where(
            _LIVE, admins.c.subject == record.subject, admins.c.provisioner_id == record.provisioner_id
        )
    )
    if duplicate:
        raise Conflict(f"admin with subject {record.subject} and this provisioner already exists")
    try:
        await tx.execute(
            admins.insert().values(
                id=record.id, subject=record.subject, provisioner_id=record.provisioner_id,
                type=record.type.value, created_at=record.created_at,
            )
        )
    except IntegrityError:  # same id inserted concurrently (the first-admin bootstrap on two replicas)
        raise Conflict(f"admin {record.id} already exists") from None
    return record


async def update_type(tx: Transaction, admin_id: str, new_type: AdminType) -> AdminRecord:
    current = await get(tx, admin_id)
    if current.type is AdminType.SUPER_ADMIN and new_type is AdminType.ADMIN and await _super_admins(tx) <= 1:
        raise Malformed("cannot demote the last super admin")
    await tx.execute(admins.update().where(admins.c.id == admin_id).values(type=new_type.value))
    return replace(current, type=new_type)


async def delete(tx: Transaction, admin_id: str, *, at: datetime) -> AdminRecord:
    current = await get(tx, admin_id)
    if current.type is AdminType.SUPER_ADMIN and await _super_admins(tx) <= 1:
        raise Malformed("cannot remove the last super admin")
    await tx.execute(admins.update().where(admins.c.id == admin_id).values(deleted_at=at))
    return current
