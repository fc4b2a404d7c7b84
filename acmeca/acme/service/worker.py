"""The job worker: claims due jobs (or jobs whose lease expired) and runs them, on every replica.

A job this process leased when it wrote it starts at once (``adopt``, or ``supervise`` for work the request
runs itself), and the request may wait a little for it; everything else is found by polling,
so a job left behind by a dead process is picked up within one poll interval after its lease runs out. Jobs
run concurrently up to ``concurrency``. A job that keeps failing is handed to its kind's ``abandon`` so the
failure is recorded rather than retried forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from acmeca.domain.clock import Clock
from acmeca.domain.errors import ServiceUnavailable
from acmeca.domain.records import JobRecord
from acmeca.store import jobs
from acmeca.store.database import Database

log = logging.getLogger(__name__)
JobHandler = Callable[[JobRecord], Awaitable[None]]
MAX_BACKOFF = 10.0  # seconds between two polls at most while the database is unavailable
T = TypeVar("T")


@dataclass(frozen=True)
class JobKind:
    run: JobHandler
    abandon: JobHandler


class JobWorker:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        owner: str,
        kinds: dict[str, JobKind],
        lease: timedelta = timedelta(seconds=60),
        poll_interval: float = 1.0,
        concurrency: int = 32,
        max_attempts: int = 3,
    ) -> None:
        self._db = db
        self._clock = clock
        self._owner = owner
        self._kinds = kinds
        self._lease = lease
        self._poll = poll_interval
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._running: set[asyncio.Task[Any]] = set()

    @property
    def owner(self) -> str:
        return self._owner

    @property
    def lease(self) -> timedelta:
        return self._lease

    def adopt(
        self, job: JobRecord, run: Callable[[JobRecord], Awaitable[T]] | None = None
    ) -> asyncio.Task[T | None]:
        """Run a job this process already leased when it wrote it (the inline fast path); the caller may wait.

        ``run`` stands in for the kind's handler when the caller already holds what the handler would read
        (the request that wrote the job has just read its subject): the task's result is what ``run``
        returned, or None when it failed. Only the first run differs: a retry, by this process or another,
        goes through the kind's handler and reads everything afresh.
        """
        return self.supervise(self._execute(job, run), name=f"job-{job.kind}-{job.id}")

    def supervise(self, work: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Run work for a job this process holds the lease of: cancelled at shutdown, a crash logged.

        The request that started it may stop waiting; the task then finishes on its own, and if it dies the
        job's lease runs out and a worker on any replica takes the job over.
        """
        task = asyncio.create_task(work, name=name)
        self._running.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("job work failed; its lease will expire and it will be retried", exc_info=error,
                      extra={"task": task.get_name()})

    async def run_forever(self) -> None:
        """Poll for jobs; while the database is unavailable, poll less often (up to MAX_BACKOFF) and say
        nothing: the store logs the outage once."""
        idle = self._poll
        try:
            while True:
                try:
                    claimed = await self.run_once()
                except ServiceUnavailable:
                    idle = min(idle * 2, max(MAX_BACKOFF, self._poll))
                    await asyncio.sleep(idle)
                    continue
                idle = self._poll
                if not claimed:
                    await asyncio.sleep(self._poll)
        finally:
            for task in list(self._running):
                task.cancel()

    async def run_once(self) -> int:
        """Claim what is due and start it; returns how many jobs were claimed."""
        free = self._concurrency - len(self._running)
        if free <= 0:
            await asyncio.sleep(0.01)
            return 0
        now = self._clock.now()
        async with self._db.read() as tx:
            if not await jobs.has_due(tx, now):
                return 0
        async with self._db.write() as tx:
            claimed = await jobs.claim(tx, owner=self._owner, now=now, lease_until=now + self._lease, limit=free)
        for job in claimed:
            self.supervise(self._execute(job), name=f"job-{job.kind}-{job.id}")
        return len(claimed)

    async def _execute(self, job: JobRecord, run: Callable[[JobRecord], Awaitable[T]] | None = None) -> T | None:
        kind = self._kinds.get(job.kind)
        if kind is None:
            log.warning("job of unknown kind left alone", extra={"job": job.id, "kind": job.kind})
            return None
        async with self._slots:
            try:
                if job.attempts > self._max_attempts:
                    await kind.abandon(job)
                elif run is not None:
                    return await run(job)
                else:
                    await kind.run(job)
            except asyncio.CancelledError:
                raise
            except ServiceUnavailable:
                log.info("job interrupted by a database outage; it will be retried", extra={"job": job.id})
            except Exception:
                log.exception("job failed; its lease will expire and it will be retried", extra={"job": job.id})
        return None
