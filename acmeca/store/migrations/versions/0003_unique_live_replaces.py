"""at most one live order replaces a certificate

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00

RFC 9773 §5: a newOrder whose ``replaces`` names a certificate already named by a live (not invalid) order is
refused with alreadyReplaced. The service checks that before it inserts the order, but on PostgreSQL two
newOrders racing on the same ``replaces`` could both pass the check and both be inserted. From now on a
partial unique index on ``acme_orders.replaces`` (among orders that are not invalid) refuses the second.

Precondition, and how it is met: before 0003 such duplicates could be stored on PostgreSQL (on SQLite too, in
principle, by two processes). The upgrade first keeps ``replaces`` on one live order per certificate and clears
it (NULL) on the others, so the index can be built. The one kept is the order recorded in the old certificate's
``replaced_by_order`` if any live order of the group is, otherwise the earliest (``created_at``, then ``id``).
The others stay as they are (they may already have issued a certificate); they just no longer claim to replace
one. The cleared values are not restored by the downgrade, which only drops the index.

Batch mode, so the same DDL runs on SQLite (which cannot ALTER an index in place) and PostgreSQL.
"""

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_acme_orders_live_replaces"
PREDICATE = "replaces IS NOT NULL AND status <> 'invalid'"

ORDERS = sa.table(
    "acme_orders", sa.column("id", sa.String()), sa.column("status", sa.String()), sa.column("replaces", sa.Text()),
    sa.column("created_at", sa.String()),  # only ordered by, never decoded
)
CERTIFICATES = sa.table("certificates", sa.column("replaced_by_order", sa.String()))


def upgrade() -> None:
    _clear_duplicate_replaces(op.get_bind())
    with op.batch_alter_table("acme_orders", schema=None) as batch_op:
        batch_op.create_index(
            INDEX, ["replaces"], unique=True,
            postgresql_where=sa.text(PREDICATE), sqlite_where=sa.text(PREDICATE),
        )


def downgrade() -> None:
    with op.batch_alter_table("acme_orders", schema=None) as batch_op:
        batch_op.drop_index(INDEX, postgresql_where=sa.text(PREDICATE), sqlite_where=sa.text(PREDICATE))


def _clear_duplicate_replaces(bind: sa.Connection) -> None:
    """Leave one live order per ``replaces`` value; clear ``replaces`` on the other live ones."""
    live = sa.and_(ORDERS.c.replaces.is_not(None), ORDERS.c.status != "invalid")
    duplicated = (
        sa.select(ORDERS.c.replaces).where(live).group_by(ORDERS.c.replaces).having(sa.func.count() > 1)
    )
    rows = bind.execute(
        sa.select(ORDERS.c.id, ORDERS.c.replaces)
        .where(live, ORDERS.c.replaces.in_(duplicated))
        .order_by(ORDERS.c.replaces, ORDERS.c.created_at, ORDERS.c.id)
    ).all()
    if not rows:
        return
    groups: defaultdict[str, list[str]] = defaultdict(list)
    for row in rows:
        groups[row.replaces].append(row.id)
    ids = [row.id for row in rows]
    recorded = set(bind.execute(
        sa.select(CERTIFICATES.c.replaced_by_order).where(CERTIFICATES.c.replaced_by_order.in_(ids))
    ).scalars())
    for order_ids in groups.values():
        keep = next((order_id for order_id in order_ids if order_id in recorded), order_ids[0])
        others = [order_id for order_id in order_ids if order_id != keep]
        bind.execute(ORDERS.update().where(ORDERS.c.id.in_(others)).values(replaces=None))
