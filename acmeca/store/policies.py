"""Issuance policies stored in the database, one row per (scope, scope_id).

Scopes: ``authority`` (scope_id ``""``), ``provisioner`` (the provisioner's immutable id) and ``eab_key``
(the EAB key id an ACME account was bound with). Documents are stored in linkedca spelling, already
validated by :func:`acmeca.policy.parse_policy_document`. Create and update are distinct so the admin API
can answer 409 / 404 as step-ca does.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from acmeca.domain.errors import Conflict, NotFound
from acmeca.domain.management import PolicyScope, StoredPolicy
from acmeca.store.schema import policies
from acmeca.store.transaction import Row, Transaction


def _record(row: Row) -> StoredPolicy:
    return StoredPolicy(
        scope=PolicyScope(row.scope), scope_id=row.scope_id, document=dict(row.document), updated_at=row.updated_at
    )


async def load_all(tx: Transaction) -> list[StoredPolicy]:
    """The whole table: it holds a handful of rows, so the name policy cache reads it in one query."""
    return [_record(r) for r in await tx.all(sa.select(policies))]


async def find(tx: Transaction, scope: PolicyScope, scope_id: str) -> StoredPolicy | None:
    row = await tx.first(sa.select(policies).where(policies.c.scope == scope.value, policies.c.scope_id == scope_id))
    return _record(row) if row else None


async def create(tx: Transaction, policy: StoredPolicy) -> StoredPolicy:
    try:
        await tx.execute(
            policies.insert().values(
                scope=policy.scope.value, scope_id=policy.scope_id, document=policy.document,
                updated_at=policy.updated_at,
            )
        )
    except IntegrityError:
        raise Conflict(f"{policy.scope.value} already has a policy") from None
    return policy


async def update(tx: Transaction, policy: StoredPolicy) -> StoredPolicy:
    touched = await tx.execute(
        policies.update()
        .where(policies.c.scope == policy.scope.value, policies.c.scope_id == policy.scope_id)
        .values(document=policy.document, updated_at=policy.updated_at)
    )
    if touched != 1:
        raise NotFound(f"{policy.scope.value} policy does not exist")
    return policy


async def delete(tx: Transaction, scope: PolicyScope, scope_id: str) -> None:
    touched = await tx.execute(
        policies.delete().where(policies.c.scope == scope.value, policies.c.scope_id == scope_id)
    )
    if touched != 1:
        raise NotFound(f"{scope.value} policy does not exist")
