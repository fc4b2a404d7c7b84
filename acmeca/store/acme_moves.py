"""ACME state moves together with their jobs: one statement each on PostgreSQL.

On PostgreSQL each statement is a round trip and a transaction two more (BEGIN, COMMIT). Starting a validation
or a finalize (a move into processing and its leased job) and settling one (the verdict or the outcome, the
roll-ups, the job deleted) are each one statement there: data-modifying CTEs applied atomically together, run
in autocommit (``Database.write_one``) and on the asyncpg fast path. Every move keeps its
``status = :expected`` guard. On SQLite, where a statement costs microseconds and there are no data-modifying
CTEs, the same moves run one by one (``acmeca.store.acme_orders``) in the caller's write transaction.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from acmeca.domain.records import JobRecord
from acmeca.domain.status import AuthorizationStatus, ChallengeStatus, OrderStatus
from acmeca.store import jobs as job_store
from acmeca.store.acme_orders import (
    ORDERS_OF_AUTHZ,
    OTHER_AUTHZ_LINKS,
    execute_move,
    fail_orders_of_authz,
    move_authz,
    move_order,
    ready_orders_of_authz,
    settle_challenge,
    start_challenge,
)
from acmeca.store.jobs import NewJob
from acmeca.store.schema import acme_accounts, acme_authorizations, acme_challenges, acme_orders
from acmeca.store.schema import jobs as job_table
from acmeca.store.transaction import Transaction, fast_read


async def settle_validation(
    tx: Transaction,
    *,
    challenge_id: str,
    authz_id: str,
    now: datetime,
    record: list[dict[str, Any]] | None,
    error: dict[str, Any] | None,
    order_error: dict[str, Any] | None,
    valid_until: datetime,
    job_id: int,
    job_owner: str,
) -> tuple[bool, bool]:
    """A verdict and its roll-up: the challenge processing → valid (``error`` None) or invalid; if that applied,
    the authorization pending → valid until ``valid_until`` (or invalid), and its pending orders → ready once
    every authorization of theirs is valid (or invalid, with ``order_error``); the job deleted if ``job_owner``
    still holds it. Returns (the challenge settled, the authorization moved)."""
    valid = error is None
    status = ChallengeStatus.VALID if valid else ChallengeStatus.INVALID
    if tx.dialect == "postgresql":
        params: dict[str, Any] = {
            "challenge_id": challenge_id, "of_authz_id": authz_id, "new_updated_at": now, "new_record": record,
            "new_status": status.value, "new_validated_at": now if valid else None, "new_error": error,
            "job_id": job_id, "job_owner": job_owner,
        }
        if valid:
            params.update(new_authz_validated_at=now, new_authz_expires_at=valid_until)
        else:
            params.update(new_order_error=order_error)
        row = await tx.first(_SETTLE_VALIDATION[valid], params)
        return (bool(row.settled), bool(row.moved)) if row is not None else (False, False)
    settled = await settle_challenge(
        tx, challenge_id, status=status, validated_at=now if valid else None, error=error, record=record
    )
    moved = False
    if settled and valid:
        moved = await move_authz(
            tx, authz_id, expected=[AuthorizationStatus.PENDING], status=AuthorizationStatus.VALID,
            validated_at=now, expires_at=valid_until,
        )
        await ready_orders_of_authz(tx, authz_id, now)
    elif settled:
        moved = await move_authz(
            tx, authz_id, expected=[AuthorizationStatus.PENDING], status=AuthorizationStatus.INVALID
        )
        await fail_orders_of_authz(tx, authz_id, now, order_error or {})
    await job_store.finish(tx, job_id, owner=job_owner)
    return settled, moved


def _settle_validation_statement(valid: bool) -> sa.Select[tuple[int, int]]:
    """PostgreSQL: ``settle_validation`` as one statement (built once per outcome)."""
    settled = (
        acme_challenges.update()
        .where(acme_challenges.c.id == sa.bindparam("challenge_id"),
               acme_challenges.c.status == ChallengeStatus.PROCESSING.value)
        .values(status=sa.bindparam("new_status"), validated_at=sa.bindparam("new_validated_at"),
                error=sa.bindparam("new_error"), validation_record=sa.bindparam("new_record"))
        .returning(acme_challenges.c.id)
        .cte("settled")
    )
    applied = sa.exists(sa.select(settled.c.id))
    this_authz = acme_authorizations.c.id == sa.bindparam("of_authz_id")
    authz_values: dict[str, Any] = {"status": AuthorizationStatus.INVALID.value}
    if valid:
        authz_values = {
            "status": AuthorizationStatus.VALID.value, "validated_at": sa.bindparam("new_authz_validated_at"),
            "expires_at": sa.bindparam("new_authz_expires_at"),
        }
    moved = (
        acme_authorizations.update()
        .where(this_authz, acme_authorizations.c.status == AuthorizationStatus.PENDING.value, applied)
        .values(authz_values)
        .returning(acme_authorizations.c.id)
        .cte("moved")
    )
    pending_of_authz = sa.and_(
        acme_orders.c.status == OrderStatus.PENDING.value, acme_orders.c.id.in_(ORDERS_OF_AUTHZ), applied
    )
    if valid:
        # The CTEs share one snapshot, so "every authorization valid" is: this one was just moved to valid
        # (or already was), and no other authorization of the order is anything but valid.
        this_valid = sa.or_(
            sa.exists(sa.select(moved.c.id)),
            sa.exists(sa.select(acme_authorizations.c.id).where(
                this_authz, acme_authorizations.c.status == AuthorizationStatus.VALID.value)),
        )
        others_valid = ~sa.exists().where(
            OTHER_AUTHZ_LINKS.c.order_id == acme_orders.c.id, acme_authorizations.c.id == OTHER_AUTHZ_LINKS.c.authz_id,
            acme_authorizations.c.id != sa.bindparam("of_authz_id"),
            acme_authorizations.c.status != AuthorizationStatus.VALID.value,
        )
        orders = acme_orders.update().where(pending_of_authz, this_valid, others_valid).values(
            status=OrderStatus.READY.value, updated_at=sa.bindparam("new_updated_at"))
    else:
        orders = acme_orders.update().where(pending_of_authz).values(
            status=OrderStatus.INVALID.value, error=sa.bindparam("new_order_error"),
            updated_at=sa.bindparam("new_updated_at"))
    rolled = orders.returning(acme_orders.c.id).cte("rolled")
    finished = (
        job_table.delete()
        .where(job_table.c.id == sa.bindparam("job_id"), job_table.c.lease_owner == sa.bindparam("job_owner"))
        .returning(job_table.c.id)
        .cte("finished")
    )
    return sa.select(
        sa.select(sa.func.count()).select_from(settled).scalar_subquery().label("settled"),
        sa.select(sa.func.count()).select_from(moved).scalar_subquery().label("moved"),
    ).add_cte(settled, moved, rolled, finished)


_SETTLE_VALIDATION = {outcome: fast_read(_settle_validation_statement(outcome)) for outcome in (True, False)}


async def settle_order(
    tx: Transaction,
    order_id: str,
    *,
    status: OrderStatus,
    now: datetime,
    job_kind: str,
    error: dict[str, Any] | None = None,
    certificate_serial: str | None = None,
) -> bool:
    """processing → ``status`` and the order's ``job_kind`` job deleted, together; False when the order had
    already left processing (the job is deleted either way: the work it stood for is settled)."""
    values: dict[str, Any] = {"status": status.value, "updated_at": now}
    if error is not None:
        values["error"] = error
    if certificate_serial is not None:
        values["certificate_serial"] = certificate_serial
    if tx.dialect == "postgresql":
        params = {f"new_{k}": v for k, v in values.items()}
        statement = _settle_order_statement(tuple(sorted(values)))
        return bool(await tx.scalar(statement, {**params, "row_id": order_id, "job_kind": job_kind}))
    moved = await execute_move(tx, acme_orders, order_id, [OrderStatus.PROCESSING.value], values)
    await job_store.finish_subject(tx, job_kind, order_id)
    return moved


@functools.lru_cache(maxsize=8)
def _settle_order_statement(columns: tuple[str, ...]) -> sa.Select[tuple[int]]:
    """PostgreSQL: ``settle_order`` as one statement, built once per set of columns it sets."""
    moved = (
        acme_orders.update()
        .where(acme_orders.c.id == sa.bindparam("row_id"), acme_orders.c.status == OrderStatus.PROCESSING.value)
        .values({c: sa.bindparam(f"new_{c}") for c in columns})
        .returning(acme_orders.c.id)
        .cte("moved")
    )
    finished = (
        job_table.delete()
        .where(job_table.c.kind == sa.bindparam("job_kind"), job_table.c.subject_id == sa.bindparam("row_id"))
        .returning(job_table.c.id)
        .cte("finished")
    )
    return fast_read(
        sa.select(sa.select(sa.func.count()).select_from(moved).scalar_subquery().label("moved")).add_cte(
            moved, finished
        )
    )


# -- starting: a move into processing and its leased job, in one statement on PostgreSQL -------------------------
_JOB_COLUMNS = ("kind", "subject_id", "payload", "run_at", "attempts", "lease_owner", "lease_expires_at", "created_at")


def _queued(source: Any) -> Any:
    """PostgreSQL: the job row inserted for the row ``source`` (a CTE) returns, if it returns one; its id."""
    values = sa.select(*(sa.bindparam(f"job_{c}", type_=job_table.c[c].type) for c in _JOB_COLUMNS))
    return (
        postgresql.insert(job_table)
        .from_select(list(_JOB_COLUMNS), values.select_from(source))
        .on_conflict_do_nothing(index_elements=["kind", "subject_id"])
        .returning(job_table.c.id)
        .cte("queued")
    )


def _job_params(job: NewJob) -> dict[str, Any]:
    return {f"job_{name}": value for name, value in job.row().items()}


_STARTED = (
    acme_challenges.update()
    .where(acme_challenges.c.id == sa.bindparam("challenge_id"),
           acme_challenges.c.status == ChallengeStatus.PENDING.value)
    .values(status=ChallengeStatus.PROCESSING.value, key_authorization=sa.bindparam("new_key_authorization"))
    .returning(acme_challenges.c.id)
    .cte("started")
)
_QUEUED_VALIDATION = _queued(_STARTED)
_START_VALIDATION = fast_read(sa.select(
    sa.select(sa.func.count()).select_from(_STARTED).scalar_subquery().label("started"),
    sa.select(_QUEUED_VALIDATION.c.id).scalar_subquery().label("job_id"),
).add_cte(_STARTED, _QUEUED_VALIDATION))


async def start_validation(
    tx: Transaction, challenge_id: str, key_authorization: str, job: NewJob
) -> tuple[bool, JobRecord | None]:
    """pending → processing (``start_challenge``) and, if that applied, its ``validate`` job (``jobs.add``),
    together: (moved, the job as written or None when its subject had one)."""
    if tx.dialect == "postgresql":
        params = {"challenge_id": challenge_id, "new_key_authorization": key_authorization, **_job_params(job)}
        row = await tx.first(_START_VALIDATION, params)
        if row is None or not row.started:
            return False, None
        return True, job.written(int(row.job_id)) if row.job_id is not None else None
    if not await start_challenge(tx, challenge_id, key_authorization):
        return False, None
    return True, await job_store.add(tx, job)


_FINALIZING = (
    acme_orders.update()
    .where(
        acme_orders.c.id == sa.bindparam("order_id"), acme_orders.c.status == OrderStatus.READY.value,
        ~sa.exists().where(acme_accounts.c.key_thumbprint == sa.bindparam("csr_thumbprint")),
    )
    .values(status=OrderStatus.PROCESSING.value, updated_at=sa.bindparam("new_updated_at"))
    .returning(acme_orders.c.id)
    .cte("finalizing")
)
_START_FINALIZE = fast_read(sa.select(
    sa.exists().where(acme_accounts.c.key_thumbprint == sa.bindparam("csr_thumbprint")).label("account_key"),
    sa.select(sa.func.count()).select_from(_FINALIZING).scalar_subquery().label("moved"),
).add_cte(_FINALIZING, _queued(_FINALIZING)))


async def start_finalize(tx: Transaction, order_id: str, csr_thumbprint: str, job: NewJob) -> tuple[bool, bool]:
    """ready → processing with its ``finalize`` job, unless the CSR's key is an account key:
    (the key is an account's, the order moved). Nothing is written when either says no."""
    if tx.dialect == "postgresql":
        params = {"order_id": order_id, "csr_thumbprint": csr_thumbprint, "new_updated_at": job.now, **_job_params(job)}
        row = await tx.first(_START_FINALIZE, params)
        return (bool(row.account_key), bool(row.moved)) if row is not None else (False, False)
    if await tx.scalar(_ACCOUNT_WITH_KEY, {"csr_thumbprint": csr_thumbprint}) is not None:
        return True, False
    if not await move_order(tx, order_id, expected=[OrderStatus.READY], status=OrderStatus.PROCESSING, now=job.now):
        return False, False
    await job_store.add(tx, job)
    return False, True


_ACCOUNT_WITH_KEY = fast_read(
    sa.select(acme_accounts.c.id).where(acme_accounts.c.key_thumbprint == sa.bindparam("csr_thumbprint"))
)
