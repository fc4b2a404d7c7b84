"""ACME orders, authorizations and challenges.

Every status change is ``UPDATE ... WHERE status = :expected`` and callers check the row count, so two
replicas racing on one order, authorization or challenge cannot both move it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from acmeca.domain.acme import AuthorizationRecord, ChallengeRecord, OrderRecord
from acmeca.domain.identifiers import Identifier, IdentifierType
from acmeca.domain.status import AuthorizationStatus, ChallengeStatus, ChallengeType, OrderStatus
from acmeca.store.schema import (
    acme_authorizations,
    acme_challenges,
    acme_order_authorizations,
    acme_orders,
)
from acmeca.store.transaction import Row, Transaction, fast_read, fast_write


def _identifiers(value: Iterable[dict[str, str]]) -> tuple[Identifier, ...]:
    return tuple(Identifier(IdentifierType(i["type"]), i["value"]) for i in value)


def _challenge(row: Row) -> ChallengeRecord:
    return ChallengeRecord(
        id=row.id, authz_id=row.authz_id, type=ChallengeType(row.type), token=row.token,
        status=ChallengeStatus(row.status), key_authorization=row.key_authorization,
        validated_at=row.validated_at, error=row.error, validation_record=row.validation_record,
    )


def _joined_challenge(row: Row) -> ChallengeRecord:
    """A challenge from a row of ``_AUTHZ_WITH_CHALLENGES`` (its columns carry a ``c_`` prefix)."""
    return ChallengeRecord(
        id=row.c_id, authz_id=row.c_authz_id, type=ChallengeType(row.c_type), token=row.c_token,
        status=ChallengeStatus(row.c_status), key_authorization=row.c_key_authorization,
        validated_at=row.c_validated_at, error=row.c_error, validation_record=row.c_validation_record,
    )


def _joined_authz(rows: Sequence[Row]) -> AuthorizationRecord | None:
    """An authorization and its challenges from the rows of one ``_AUTHZ_WITH_CHALLENGES`` read."""
    if not rows:
        return None
    return _authz(rows[0], [_joined_challenge(r) for r in rows if r.c_id is not None])


def _authz(row: Row, challenges: Sequence[ChallengeRecord]) -> AuthorizationRecord:
    return AuthorizationRecord(
        id=row.id, account_id=row.account_id, provisioner_id=row.provisioner_id,
        identifier=Identifier(IdentifierType(row.identifier_type), row.identifier_value), wildcard=row.wildcard,
        status=AuthorizationStatus(row.status), expires_at=row.expires_at, created_at=row.created_at,
        validated_at=row.validated_at, challenges=tuple(challenges),
    )


def _order(row: Row, authz_ids: Sequence[str]) -> OrderRecord:
    return OrderRecord(
        id=row.id, account_id=row.account_id, provisioner_id=row.provisioner_id, status=OrderStatus(row.status),
        identifiers=_identifiers(row.identifiers), profile=row.profile, expires_at=row.expires_at,
        created_at=row.created_at, updated_at=row.updated_at, authz_ids=tuple(authz_ids),
        not_before=row.not_before, not_after=row.not_after, replaces=row.replaces, error=row.error,
        certificate_serial=row.certificate_serial,
    )


# -- orders ---------------------------------------------------------------------------------------------------
async def insert_order(tx: Transaction, order: OrderRecord) -> bool:
    """Insert the order and its authorizations; False (nothing inserted) when its ``replaces`` names a
    certificate another live order already replaces (the unique index ``uq_acme_orders_live_replaces``)."""
    inserted = await tx.execute(_INSERT_ORDER[tx.dialect], {
        "id": order.id, "account_id": order.account_id, "provisioner_id": order.provisioner_id,
        "status": order.status.value, "identifiers": [i.to_json() for i in order.identifiers],
        "profile": order.profile, "not_before": order.not_before, "not_after": order.not_after,
        "expires_at": order.expires_at, "replaces": order.replaces, "created_at": order.created_at,
        "updated_at": order.updated_at,
    })
    if inserted != 1:
        return False
    await tx.execute(
        _INSERT_ORDER_AUTHZ,
        [{"order_id": order.id, "authz_id": a, "position": n} for n, a in enumerate(order.authz_ids)],
    )
    return True


# The lookups every polling client repeats, built once: building a statement costs more than running it.
# Each is one statement (one round trip on PostgreSQL, one snapshot everywhere): a joined row per authorization
# of an order, or per challenge of an authorization, rather than a second query for them.
_ORDER_WITH_AUTHZS = fast_read(
    sa.select(
        acme_orders, acme_order_authorizations.c.authz_id.label("a_id"), acme_authorizations.c.status.label("a_status")
    )
    .select_from(
        acme_orders.outerjoin(acme_order_authorizations, acme_order_authorizations.c.order_id == acme_orders.c.id)
        .outerjoin(acme_authorizations, acme_authorizations.c.id == acme_order_authorizations.c.authz_id)
    )
    .where(acme_orders.c.id == sa.bindparam("id"))
    .order_by(acme_order_authorizations.c.position)
)
_CHALLENGE_COLUMNS = [column.label(f"c_{column.name}") for column in acme_challenges.c]
_WANTED = acme_challenges.alias("wanted")
_AUTHZ_BY_ID = fast_read(
    sa.select(acme_authorizations, *_CHALLENGE_COLUMNS)
    .select_from(
        acme_authorizations.outerjoin(acme_challenges, acme_challenges.c.authz_id == acme_authorizations.c.id)
    )
    .where(acme_authorizations.c.id == sa.bindparam("id"))
    .order_by(acme_challenges.c.type)
)
_AUTHZ_OF_CHALLENGE = fast_read(
    sa.select(acme_authorizations, *_CHALLENGE_COLUMNS)
    .select_from(
        _WANTED.join(acme_authorizations, acme_authorizations.c.id == _WANTED.c.authz_id)
        .join(acme_challenges, acme_challenges.c.authz_id == acme_authorizations.c.id)
    )
    .where(_WANTED.c.id == sa.bindparam("id"))
    .order_by(acme_challenges.c.type)
)
_CHALLENGE_BY_ID = fast_read(
    sa.select(acme_challenges).where(acme_challenges.c.id == sa.bindparam("id"))
)
# The only unique key an order can collide on besides its random id is the live-``replaces`` index, so a
# conflict means another live order replaces the same certificate. DO NOTHING rather than a caught
# IntegrityError, so PostgreSQL's transaction is not aborted (docs/storage.md).
_INSERT_ORDER = {
    "postgresql": postgresql.insert(acme_orders).on_conflict_do_nothing(),
    "sqlite": fast_write(sqlite.insert(acme_orders).on_conflict_do_nothing()),
}
_INSERT_ORDER_AUTHZ = fast_write(acme_order_authorizations.insert())
_INSERT_AUTHZ = fast_write(acme_authorizations.insert())
_INSERT_CHALLENGE = fast_write(acme_challenges.insert())
_START_CHALLENGE = fast_write(
    acme_challenges.update()
    .where(acme_challenges.c.id == sa.bindparam("challenge_id"),
           acme_challenges.c.status == ChallengeStatus.PENDING.value)
    .values(status=ChallengeStatus.PROCESSING.value, key_authorization=sa.bindparam("new_key_authorization"))
)
_REUSABLE_AUTHZ = fast_read(
    sa.select(acme_authorizations.c.id)
    .where(
        acme_authorizations.c.account_id == sa.bindparam("account_id"),
        acme_authorizations.c.provisioner_id == sa.bindparam("provisioner_id"),
        acme_authorizations.c.identifier_type == sa.bindparam("identifier_type"),
        acme_authorizations.c.identifier_value == sa.bindparam("identifier_value"),
        acme_authorizations.c.wildcard == sa.bindparam("wildcard"),
        acme_authorizations.c.status == AuthorizationStatus.VALID.value,
        acme_authorizations.c.expires_at > sa.bindparam("valid_after"),
    )
    .order_by(acme_authorizations.c.expires_at.desc())
    .limit(1)
)
_SETTLE_CHALLENGE = fast_write(
    acme_challenges.update()
    .where(
        acme_challenges.c.id == sa.bindparam("challenge_id"),
        acme_challenges.c.status == ChallengeStatus.PROCESSING.value,
    )
    .values(
        status=sa.bindparam("new_status"), validated_at=sa.bindparam("new_validated_at"),
        error=sa.bindparam("new_error"), validation_record=sa.bindparam("new_record"),
    )
)
# Parameter names never match a column of the table a statement updates: SQLAlchemy would add it to the SET.
ORDERS_OF_AUTHZ = sa.select(acme_order_authorizations.c.order_id).where(
    acme_order_authorizations.c.authz_id == sa.bindparam("of_authz_id")
)
OTHER_AUTHZ_LINKS = acme_order_authorizations.alias("others")
# The roll-ups of a settled validation, one UPDATE each rather than a read of the orders and of their
# authorizations' statuses followed by a conditional move per order. ``status = 'pending'`` keeps them
# compare-and-sets: an order another writer moved first is left as that writer left it.
_READY_WHEN_ALL_VALID = fast_write(
    acme_orders.update()
    .where(
        acme_orders.c.status == OrderStatus.PENDING.value,
        acme_orders.c.id.in_(ORDERS_OF_AUTHZ),
        ~sa.exists().where(
            OTHER_AUTHZ_LINKS.c.order_id == acme_orders.c.id,
            acme_authorizations.c.id == OTHER_AUTHZ_LINKS.c.authz_id,
            acme_authorizations.c.status != AuthorizationStatus.VALID.value,
        ),
    )
    .values(status=OrderStatus.READY.value, updated_at=sa.bindparam("new_updated_at"))
)
_INVALID_WITH_AUTHZ = fast_write(
    acme_orders.update()
    .where(acme_orders.c.status == OrderStatus.PENDING.value, acme_orders.c.id.in_(ORDERS_OF_AUTHZ))
    .values(
        status=OrderStatus.INVALID.value, error=sa.bindparam("new_error"), updated_at=sa.bindparam("new_updated_at")
    )
)


async def order_by_id(tx: Transaction, order_id: str) -> OrderRecord | None:
    found = await order_with_statuses(tx, order_id)
    return found[0] if found else None


async def order_with_statuses(
    tx: Transaction, order_id: str
) -> tuple[OrderRecord, list[AuthorizationStatus]] | None:
    """The order and the statuses of its authorizations, read in one statement (one snapshot)."""
    rows = await tx.all(_ORDER_WITH_AUTHZS, {"id": order_id})
    if not rows:
        return None
    order = _order(rows[0], [r.a_id for r in rows if r.a_id is not None])
    return order, [AuthorizationStatus(r.a_status) for r in rows if r.a_status is not None]


async def move_order(
    tx: Transaction,
    order_id: str,
    *,
    expected: Sequence[OrderStatus],
    status: OrderStatus,
    now: datetime,
    error: dict[str, Any] | None = None,
    certificate_serial: str | None = None,
) -> bool:
    values: dict[str, Any] = {"status": status.value, "updated_at": now}
    if error is not None:
        values["error"] = error
    if certificate_serial is not None:
        values["certificate_serial"] = certificate_serial
    return await execute_move(tx, acme_orders, order_id, [s.value for s in expected], values)


async def execute_move(
    tx: Transaction, table: sa.Table, row_id: str, expected: list[str], values: dict[str, Any]
) -> bool:
    """Apply a conditional status move; False when the row was no longer in an expected status."""
    params = {f"new_{k}": v for k, v in values.items()}
    params.update({f"expected_{n}": status for n, status in enumerate(expected)})
    touched = await tx.execute(_move(table, tuple(sorted(values)), len(expected)), {**params, "row_id": row_id})
    return touched == 1


@functools.lru_cache(maxsize=64)
def _move(table: sa.Table, columns: tuple[str, ...], expected: int) -> sa.Update:
    """A conditional status move, built once per shape (which columns it sets, how many statuses it expects)
    instead of per call; one bound parameter per expected status rather than an IN-list rendered per run."""
    return fast_write(
        table.update()
        .where(table.c.id == sa.bindparam("row_id"),
               table.c.status.in_([sa.bindparam(f"expected_{n}") for n in range(expected)]))
        .values({c: sa.bindparam(f"new_{c}") for c in columns})
    )


async def order_ids_for_authz(tx: Transaction, authz_id: str, statuses: Sequence[OrderStatus]) -> list[str]:
    params = {f"status_{n}": s.value for n, s in enumerate(statuses)}
    return await tx.scalars(_orders_of_authz(len(statuses)), {**params, "authz_id": authz_id})


@functools.lru_cache(maxsize=8)
def _orders_of_authz(statuses: int) -> sa.Select[tuple[str]]:
    """Built once per number of statuses asked for (every validation and finalization rolls up through it)."""
    return fast_read(
        sa.select(acme_orders.c.id)
        .join(acme_order_authorizations, acme_order_authorizations.c.order_id == acme_orders.c.id)
        .where(acme_order_authorizations.c.authz_id == sa.bindparam("authz_id"))
        .where(acme_orders.c.status.in_([sa.bindparam(f"status_{n}") for n in range(statuses)]))
    )


async def authz_statuses(tx: Transaction, order_id: str) -> list[AuthorizationStatus]:
    found = await order_with_statuses(tx, order_id)
    return found[1] if found else []


async def ready_orders_of_authz(tx: Transaction, authz_id: str, now: datetime) -> int:
    """pending → ready for every order of ``authz_id`` whose authorizations are now all valid; how many moved."""
    return await tx.execute(_READY_WHEN_ALL_VALID, {"of_authz_id": authz_id, "new_updated_at": now})


async def fail_orders_of_authz(tx: Transaction, authz_id: str, now: datetime, error: dict[str, Any]) -> int:
    """pending → invalid, with ``error``, for every order of ``authz_id``; how many moved."""
    return await tx.execute(
        _INVALID_WITH_AUTHZ, {"of_authz_id": authz_id, "new_error": error, "new_updated_at": now}
    )


async def order_page(
    tx: Transaction, account_id: str, *, exclude: Sequence[OrderStatus], offset: int, limit: int
) -> list[str]:
    """Order ids of an account, oldest first; one extra row tells the caller a next page exists."""
    query = (
        sa.select(acme_orders.c.id)
        .where(acme_orders.c.account_id == account_id, acme_orders.c.status.not_in([s.value for s in exclude]))
        .order_by(acme_orders.c.created_at, acme_orders.c.id)
        .offset(offset)
        .limit(limit + 1)
    )
    return await tx.scalars(query)


async def cancel_open_orders(tx: Transaction, account_id: str, now: datetime, error: dict[str, Any]) -> None:
    open_states = [OrderStatus.PENDING.value, OrderStatus.READY.value]
    await tx.execute(
        acme_orders.update()
        .where(acme_orders.c.account_id == account_id, acme_orders.c.status.in_(open_states))
        .values(status=OrderStatus.INVALID.value, error=error, updated_at=now)
    )
    await tx.execute(
        acme_authorizations.update()
        .where(
            acme_authorizations.c.account_id == account_id,
            acme_authorizations.c.status == AuthorizationStatus.PENDING.value,
        )
        .values(status=AuthorizationStatus.DEACTIVATED.value)
    )


# -- authorizations -------------------------------------------------------------------------------------------
async def insert_authz(tx: Transaction, authz: AuthorizationRecord) -> None:
    await tx.execute(_INSERT_AUTHZ, {
        "id": authz.id, "account_id": authz.account_id, "provisioner_id": authz.provisioner_id,
        "identifier_type": authz.identifier.type.value, "identifier_value": authz.identifier.value,
        "wildcard": authz.wildcard, "status": authz.status.value, "expires_at": authz.expires_at,
        "created_at": authz.created_at,
    })
    await tx.execute(
        _INSERT_CHALLENGE,
        [
            {"id": c.id, "authz_id": authz.id, "type": c.type.value, "token": c.token, "status": c.status.value}
            for c in authz.challenges
        ],
    )


async def authz_by_id(tx: Transaction, authz_id: str) -> AuthorizationRecord | None:
    return _joined_authz(await tx.all(_AUTHZ_BY_ID, {"id": authz_id}))


async def reusable_authz(
    tx: Transaction, *, account_id: str, provisioner_id: str, identifier: Identifier, wildcard: bool,
    valid_after: datetime,
) -> str | None:
    """A valid authorization of the same account that outlives ``valid_after``, newest first."""
    value = await tx.scalar(_REUSABLE_AUTHZ, {
        "account_id": account_id, "provisioner_id": provisioner_id, "identifier_type": identifier.type.value,
        "identifier_value": identifier.value, "wildcard": wildcard, "valid_after": valid_after,
    })
    return str(value) if value is not None else None


async def move_authz(
    tx: Transaction,
    authz_id: str,
    *,
    expected: Sequence[AuthorizationStatus],
    status: AuthorizationStatus,
    validated_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> bool:
    values: dict[str, Any] = {"status": status.value}
    if validated_at is not None:
        values["validated_at"] = validated_at
    if expires_at is not None:
        values["expires_at"] = expires_at
    return await execute_move(tx, acme_authorizations, authz_id, [s.value for s in expected], values)


async def valid_identifiers(tx: Transaction, account_id: str, now: datetime) -> set[Identifier]:
    """Identifiers the account holds a live valid authorization for (revocation by authorization)."""
    rows = await tx.all(
        sa.select(acme_authorizations.c.identifier_type, acme_authorizations.c.identifier_value).where(
            acme_authorizations.c.account_id == account_id,
            acme_authorizations.c.status == AuthorizationStatus.VALID.value,
            acme_authorizations.c.expires_at > now,
        )
    )
    return {Identifier(IdentifierType(t), v) for t, v in rows}


# -- challenges -----------------------------------------------------------------------------------------------
async def challenge_by_id(tx: Transaction, challenge_id: str) -> ChallengeRecord | None:
    row = await tx.first(_CHALLENGE_BY_ID, {"id": challenge_id})
    return _challenge(row) if row else None


async def challenge_with_authz(
    tx: Transaction, challenge_id: str
) -> tuple[ChallengeRecord, AuthorizationRecord] | None:
    """A challenge and its authorization (with every challenge of it), read in one statement."""
    authz = _joined_authz(await tx.all(_AUTHZ_OF_CHALLENGE, {"id": challenge_id}))
    if authz is None:
        return None
    challenge = next((c for c in authz.challenges if c.id == challenge_id), None)
    return (challenge, authz) if challenge is not None else None


async def start_challenge(tx: Transaction, challenge_id: str, key_authorization: str) -> bool:
    """pending → processing, fixing the key authorization so a later key rollover cannot change it."""
    touched = await tx.execute(
        _START_CHALLENGE, {"challenge_id": challenge_id, "new_key_authorization": key_authorization}
    )
    return touched == 1


async def settle_challenge(
    tx: Transaction,
    challenge_id: str,
    *,
    status: ChallengeStatus,
    validated_at: datetime | None,
    error: dict[str, Any] | None,
    record: list[dict[str, Any]] | None,
) -> bool:
    """processing → valid|invalid with the verdict; False if someone else settled it first."""
    touched = await tx.execute(_SETTLE_CHALLENGE, {
        "challenge_id": challenge_id, "new_status": status.value, "new_validated_at": validated_at,
        "new_error": error, "new_record": record,
    })
    return touched == 1
