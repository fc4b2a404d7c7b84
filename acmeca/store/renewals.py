"""Renewal bookkeeping for ARI (RFC 9773): which order replaces a certificate, and early-renewal requests.

Kept apart from the certificate repository because only ACME's renewal flow and the operator's early-renewal
command write these columns; both are single conditional UPDATEs, so replicas never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from acmeca.domain.status import OrderStatus
from acmeca.store.schema import acme_orders, certificates
from acmeca.store.transaction import Transaction


async def live_orders_replacing(tx: Transaction, cert_id: str) -> list[str]:
    """Ids of orders that name ``cert_id`` in ``replaces`` and have not failed (RFC 9773 §5)."""
    return await tx.scalars(
        sa.select(acme_orders.c.id).where(
            acme_orders.c.replaces == cert_id, acme_orders.c.status != OrderStatus.INVALID.value
        )
    )


async def mark_replaced(tx: Transaction, serial: str, order_id: str) -> bool:
    """Record the order whose certificate replaced ``serial`` (the first one wins)."""
    touched = await tx.execute(
        certificates.update()
        .where(certificates.c.serial == serial, certificates.c.replaced_by_order.is_(None))
        .values(replaced_by_order=order_id)
    )
    return bool(touched)


async def suggest_renewal(
    tx: Transaction, *, at: datetime, serials: Sequence[str] = (), issuer_ski: str | None = None,
) -> list[str]:
    """Ask holders of these unexpired, unrevoked certificates to renew now; returns the serials touched."""
    where = [
        certificates.c.state == "issued", certificates.c.not_after > at, certificates.c.revoked_at.is_(None),
    ]
    if issuer_ski is not None:
        where.append(certificates.c.issuer_ski == issuer_ski)
    else:
        where.append(certificates.c.serial.in_(list(serials)))
    touched: list[str] = await tx.scalars(sa.select(certificates.c.serial).where(*where))
    if touched:
        await tx.execute(certificates.update().where(*where).values(renewal_suggested_at=at))
    return touched
