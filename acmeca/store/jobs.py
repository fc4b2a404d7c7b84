"""Durable background jobs with a lease.

A job is a row; a worker owns it while its lease runs. Any replica may claim a job whose ``run_at`` has come
and whose lease is absent or expired, so work started by a process that died is resumed elsewhere. On
PostgreSQL the claim uses ``FOR UPDATE SKIP LOCKED`` so replicas never queue behind each other's claims;
on SQLite the write transaction is ``BEGIN IMMEDIATE`` and the conditional UPDATE re-checks the lease.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from acmeca import metrics
from acmeca.domain.records import JobRecord
from acmeca.store.schema import jobs
from acmeca.store.transaction import Row, Transaction, fast_read, fast_write


def _record(row: Row) -> JobRecord:
    return JobRecord(
        id=row.id, kind=row.kind, subject_id=row.subject_id, payload=dict(row.payload or {}), run_at=row.run_at,
        attempts=row.attempts, lease_owner=row.lease_owner, lease_expires_at=row.lease_expires_at,
    )


@dataclass(frozen=True)
class NewJob:
    """A job about to be written; ``owner`` claims it at once (the inline fast path)."""

    kind: str
    subject_id: str
    payload: dict[str, Any]
    now: datetime
    owner: str | None = None
    lease_expires_at: datetime | None = None

    def row(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "subject_id": self.subject_id, "payload": self.payload, "run_at": self.now,
            "attempts": 1 if self.owner else 0, "lease_owner": self.owner, "lease_expires_at": self.lease_expires_at,
            "created_at": self.now,
        }

    def written(self, job_id: int) -> JobRecord:
        """The job as its row now reads, given the id the INSERT returned: no read of the row is needed."""
        return JobRecord(
            id=job_id, kind=self.kind, subject_id=self.subject_id, payload=dict(self.payload), run_at=self.now,
            attempts=1 if self.owner else 0, lease_owner=self.owner, lease_expires_at=self.lease_expires_at,
        )


async def enqueue(
    tx: Transaction,
    *,
    kind: str,
    subject_id: str,
    payload: dict[str, Any],
    now: datetime,
    owner: str | None = None,
    lease_expires_at: datetime | None = None,
) -> JobRecord | None:
    """Add a job unless one exists for the subject; an ``owner`` claims it at once (inline fast path).

    The job as written, or None when the subject already had one. Built from what was inserted and the id
    the INSERT returns, so the caller that adopts it needs no read of the row it has just written.
    """
    return await add(tx, NewJob(kind, subject_id, payload, now, owner, lease_expires_at))


async def add(tx: Transaction, job: NewJob) -> JobRecord | None:
    """``enqueue`` for a job already described."""
    job_id = await tx.scalar(_ENQUEUE[tx.dialect], job.row())
    return job.written(int(job_id)) if job_id is not None else None


# Built once: every order enqueues and claims jobs, and building a statement costs more than running it.
_ENQUEUE = {
    "postgresql": postgresql.insert(jobs).on_conflict_do_nothing(index_elements=["kind", "subject_id"])
    .returning(jobs.c.id),
    "sqlite": fast_write(
        sqlite.insert(jobs).on_conflict_do_nothing(index_elements=["kind", "subject_id"]).returning(jobs.c.id)
    ),
}
_CLAIMABLE = sa.and_(
    jobs.c.run_at <= sa.bindparam("now"),
    sa.or_(jobs.c.lease_expires_at.is_(None), jobs.c.lease_expires_at < sa.bindparam("now")),
)
_HAS_DUE = fast_read(sa.select(jobs.c.id).where(_CLAIMABLE).limit(1))
_DUE = (
    sa.select(jobs.c.id, jobs.c.lease_owner).where(_CLAIMABLE).order_by(jobs.c.run_at, jobs.c.id)
    .limit(sa.bindparam("limit"))
)
_TAKE = fast_write(
    jobs.update()
    .where(jobs.c.id == sa.bindparam("job_id"), _CLAIMABLE)
    .values(lease_owner=sa.bindparam("owner"), lease_expires_at=sa.bindparam("lease_until"),
            attempts=jobs.c.attempts + 1)
)
_BY_ID = fast_read(sa.select(jobs).where(jobs.c.id == sa.bindparam("job_id")))
_BY_SUBJECT = fast_read(
    sa.select(jobs).where(jobs.c.kind == sa.bindparam("kind"), jobs.c.subject_id == sa.bindparam("subject_id"))
)
_FINISH = fast_write(
    jobs.delete().where(jobs.c.id == sa.bindparam("job_id"), jobs.c.lease_owner == sa.bindparam("owner"))
)
_FINISH_SUBJECT = fast_write(
    jobs.delete().where(jobs.c.kind == sa.bindparam("kind"), jobs.c.subject_id == sa.bindparam("subject_id"))
)


async def has_due(tx: Transaction, now: datetime) -> bool:
    """A cheap read so idle workers do not take the SQLite write lock every poll."""
    return (await tx.scalar(_HAS_DUE, {"now": now})) is not None


async def claim(
    tx: Transaction, *, owner: str, now: datetime, lease_until: datetime, limit: int
) -> list[JobRecord]:
    """Take up to ``limit`` due jobs for ``owner`` until ``lease_until``.

    A job that still names an owner had its lease run out: that claim is a takeover (the owner died or
    stalled), counted in ``acmeca_job_lease_takeovers_total``.
    """
    query = _DUE.with_for_update(skip_locked=True) if tx.dialect == "postgresql" else _DUE
    due = await tx.all(query, {"now": now, "limit": limit})
    claimed: list[JobRecord] = []
    for job_id, previous_owner in due:
        take = {"job_id": job_id, "now": now, "owner": owner, "lease_until": lease_until}
        if await tx.execute(_TAKE, take) == 1:
            if previous_owner is not None:
                metrics.JOB_LEASE_TAKEOVERS.inc()
            row = await tx.first(_BY_ID, {"job_id": job_id})
            if row is not None:  # always: this transaction has just updated it
                claimed.append(_record(row))
    return claimed


async def finish(tx: Transaction, job_id: int, *, owner: str) -> bool:
    """Delete a job we own; False if the lease had passed to someone else."""
    return await tx.execute(_FINISH, {"job_id": job_id, "owner": owner}) == 1


async def finish_subject(tx: Transaction, kind: str, subject_id: str) -> None:
    """Delete the job for a subject whoever holds it: the work it stood for is settled."""
    await tx.execute(_FINISH_SUBJECT, {"kind": kind, "subject_id": subject_id})


async def release(tx: Transaction, job_id: int, *, owner: str, run_at: datetime) -> None:
    """Give a job back to be retried at ``run_at`` by whichever replica comes first."""
    await tx.execute(
        jobs.update()
        .where(jobs.c.id == job_id, jobs.c.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None, run_at=run_at)
    )


async def by_subject(tx: Transaction, kind: str, subject_id: str) -> JobRecord | None:
    row = await tx.first(_BY_SUBJECT, {"kind": kind, "subject_id": subject_id})
    return _record(row) if row else None


async def pending(tx: Transaction) -> int:
    """Jobs not yet done: waiting for their time, leased and running, or left by a process that died."""
    return int(await tx.scalar(sa.select(sa.func.count()).select_from(jobs)) or 0)
