"""ACME accounts: one row per account key, found by its RFC 7638 thumbprint.

The thumbprint column is unique, so two racing newAccount or keyChange requests for the same key cannot
both succeed: the loser gets an IntegrityError, which we turn into a Conflict naming the winner.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from acmeca.domain.acme import AccountRecord
from acmeca.domain.errors import Conflict
from acmeca.domain.status import AccountStatus
from acmeca.store.schema import acme_accounts
from acmeca.store.transaction import Row, Transaction, fast_read


def _record(row: Row) -> AccountRecord:
    return AccountRecord(
        id=row.id, provisioner_id=row.provisioner_id, key_thumbprint=row.key_thumbprint, jwk=dict(row.jwk),
        status=AccountStatus(row.status), contact=tuple(row.contact or ()), tos_agreed=bool(row.tos_agreed),
        created_at=row.created_at, eab_key_id=row.eab_key_id, eab_binding=row.eab_binding,
        created_ip=row.created_ip, deactivated_at=row.deactivated_at,
    )


# Every authenticated ACME request looks its account up: the statement is built once.
_BY_ID = fast_read(sa.select(acme_accounts).where(acme_accounts.c.id == sa.bindparam("id")))


async def by_id(tx: Transaction, account_id: str) -> AccountRecord | None:
    row = await tx.first(_BY_ID, {"id": account_id})
    return _record(row) if row else None


_BY_THUMBPRINT = fast_read(
    sa.select(acme_accounts).where(acme_accounts.c.key_thumbprint == sa.bindparam("thumbprint"))
)


async def by_thumbprint(tx: Transaction, thumbprint: str) -> AccountRecord | None:
    row = await tx.first(_BY_THUMBPRINT, {"thumbprint": thumbprint})
    return _record(row) if row else None


async def insert(tx: Transaction, account: AccountRecord) -> None:
    """Insert inside a savepoint so a lost race leaves the caller's transaction usable."""
    try:
        async with tx.savepoint():
            await tx.execute(
                acme_accounts.insert().values(
                    id=account.id, provisioner_id=account.provisioner_id, key_thumbprint=account.key_thumbprint,
                    jwk=account.jwk, status=account.status.value, contact=list(account.contact),
                    tos_agreed=account.tos_agreed, eab_key_id=account.eab_key_id, eab_binding=account.eab_binding,
                    created_ip=account.created_ip, created_at=account.created_at,
                )
            )
    except IntegrityError:
        raise Conflict("an account with this key already exists") from None


async def update_contact(tx: Transaction, account_id: str, contact: tuple[str, ...]) -> None:
    await tx.execute(
        acme_accounts.update().where(acme_accounts.c.id == account_id).values(contact=list(contact))
    )


async def deactivate(tx: Transaction, account_id: str, at: datetime) -> bool:
    """valid → deactivated; False when the account was not valid any more."""
    touched = await tx.execute(
        acme_accounts.update()
        .where(acme_accounts.c.id == account_id, acme_accounts.c.status == AccountStatus.VALID.value)
        .values(status=AccountStatus.DEACTIVATED.value, deactivated_at=at)
    )
    return touched == 1


async def change_key(
    tx: Transaction, account_id: str, *, old_thumbprint: str, new_thumbprint: str, jwk: dict[str, Any]
) -> bool:
    """Swap the key only if it is still the one the client proved; the unique index settles races."""
    try:
        async with tx.savepoint():
            touched = await tx.execute(
                acme_accounts.update()
                .where(acme_accounts.c.id == account_id, acme_accounts.c.key_thumbprint == old_thumbprint)
                .values(key_thumbprint=new_thumbprint, jwk=jwk)
            )
    except IntegrityError:
        raise Conflict("the new key is already in use by another account") from None
    return touched == 1
