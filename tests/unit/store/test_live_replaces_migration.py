"""Migration 0003: duplicates stored before the live-``replaces`` index existed are resolved, then refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from acmeca.store.database import Database
from acmeca.store.migrate import current_revision, head_revision, upgrade
from acmeca.store.schema import UTCDateTime
from tests.support.databases import migrate_to

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

# The tables as revision 0002 left them: only what these rows need.
ORDERS = sa.table(
    "acme_orders",
    *(sa.column(c, sa.String()) for c in ("id", "account_id", "provisioner_id", "status", "profile", "replaces")),
    sa.column("identifiers", sa.JSON()),
    *(sa.column(c, UTCDateTime()) for c in ("expires_at", "created_at", "updated_at")),
)
CERTIFICATES = sa.table(
    "certificates",
    *(sa.column(c, sa.String()) for c in ("serial", "state", "issuer_ski", "spki_sha256", "profile",
                                          "requester_kind", "requester_id", "replaced_by_order")),
    *(sa.column(c, UTCDateTime()) for c in ("not_before", "not_after", "created_at")),
)




def _order(order_id: str, status: str, replaces: str | None, minutes: int) -> dict[str, Any]:
    at = NOW + timedelta(minutes=minutes)
    return {"id": order_id, "account_id": "acct", "provisioner_id": "prov", "status": status, "profile": "default",
            "replaces": replaces, "identifiers": [{"type": "dns", "value": "a.example"}], "expires_at": at,
            "created_at": at, "updated_at": at}


async def _replaces(database: Database) -> dict[str, str | None]:
    async with database.read() as tx:
        rows = await tx.all(sa.select(ORDERS.c.id, ORDERS.c.replaces))
    return {row.id: row.replaces for row in rows}


async def test_duplicate_live_replaces_are_cleared_then_refused(empty_database: Database) -> None:
    await migrate_to(empty_database, "0002")
    async with empty_database.write() as tx:
        await tx.execute(ORDERS.insert(), [
            # cert-x: two live orders raced; the later one issued and is recorded on the certificate, so it stays
            _order("x-first", "pending", "cert-x", 0), _order("x-issued", "valid", "cert-x", 1),
            _order("x-failed", "invalid", "cert-x", 2),
            # cert-y: nothing recorded, so the earliest live order keeps it
            _order("y-later", "pending", "cert-y", 5), _order("y-earlier", "ready", "cert-y", 3),
            _order("z-alone", "pending", "cert-z", 0), _order("plain", "pending", None, 0),
        ])
        await tx.execute(CERTIFICATES.insert().values(
            serial="1", state="issued", issuer_ski="ab", spki_sha256="cd", profile="default", requester_kind="acme",
            requester_id="acct", replaced_by_order="x-issued", not_before=NOW, not_after=NOW, created_at=NOW,
        ))

    assert await upgrade(empty_database) == ("0002", head_revision())

    assert await _replaces(empty_database) == {
        "x-first": None, "x-issued": "cert-x", "x-failed": "cert-x",  # an invalid order never counted
        "y-later": None, "y-earlier": "cert-y", "z-alone": "cert-z", "plain": None,
    }
    with pytest.raises(sa.exc.IntegrityError):
        async with empty_database.write() as tx:
            await tx.execute(ORDERS.insert().values(**_order("y-again", "pending", "cert-y", 9)))
    async with empty_database.write() as tx:  # invalid orders and orders replacing nothing are not constrained
        await tx.execute(ORDERS.insert(), [
            _order("y-dead", "invalid", "cert-y", 9), _order("plain-2", "pending", None, 9),
        ])

    await migrate_to(empty_database, "0002", down=True)
    assert await current_revision(empty_database) == "0002"
    async with empty_database.write() as tx:  # the index is gone again
        await tx.execute(ORDERS.insert().values(**_order("y-again", "pending", "cert-y", 9)))
