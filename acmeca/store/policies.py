"""Issuance policies stored in the database, one row per (scope, scope_id).

Scopes: ``authority`` (scope_id ``""``), ``provisioner`` (the provisioner's immutable id) and ``eab_key``
(the EAB key id an ACME account was bound with). Documents are stored in linkedca spelling, already
validated by :func:`acmeca.policy.parse_policy_document`. Create and update are distinct so the admin API
can answer 409 / 404 as step-ca does.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from acmeca.domain.errors import Conflict, NotFound
from acmeca.domain.management import PolicyScope, StoredPolicy
from acmeca.store.database import Database
from acmeca.store.schema import policies


def _record(row: sa.Row[Any]) -> StoredPolicy:
    return StoredPolicy(
        scope=PolicyScope(row.scope), scope_id=row.scope_id, document=dict(row.document), updated_at=row.updated_at
    )


class PolicyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[StoredPolicy]:
        """The whole table: it holds a handful of rows, so the name policy cache reads it in one query."""
        async with self._db.read() as conn:
            return [_record(r) for r in await conn.execute(sa.select(policies))]

    async def find(self, scope: PolicyScope, scope_id: str) -> StoredPolicy | None:
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(policies).where(policies.c.scope == scope.value, policies.c.scope_id == scope_id)
                )
            ).first()
        return _record(row) if row else None

    async def create(self, policy: StoredPolicy) -> StoredPolicy:
        try:
            async with self._db.write() as conn:
                await conn.execute(
                    policies.insert().values(
                        scope=policy.scope.value, scope_id=policy.scope_id, document=policy.document,
                        updated_at=policy.updated_at,
                    )
                )
        except IntegrityError:
            raise Conflict(f"{policy.scope.value} already has a policy") from None
        return policy

    async def update(self, policy: StoredPolicy) -> StoredPolicy:
        async with self._db.write() as conn:
            result = await conn.execute(
                policies.update()
                .where(policies.c.scope == policy.scope.value, policies.c.scope_id == policy.scope_id)
                .values(document=policy.document, updated_at=policy.updated_at)
            )
        if result.rowcount != 1:
            raise NotFound(f"{policy.scope.value} policy does not exist")
        return policy

    async def delete(self, scope: PolicyScope, scope_id: str) -> None:
        async with self._db.write() as conn:
            result = await conn.execute(
                policies.delete().where(policies.c.scope == scope.value, policies.c.scope_id == scope_id)
            )
        if result.rowcount != 1:
            raise NotFound(f"{scope.value} policy does not exist")
