"""Retry-After for work in flight, the bounded wait that never cancels it, and the worker that supervises it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from acmeca.acme.service.pacing import retry_after, settled_within
from acmeca.acme.service.worker import JobWorker
from acmeca.domain.clock import SystemClock
from acmeca.store.database import Database

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BUDGET = timedelta(seconds=10)


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (timedelta(0), 1),  # just started: never less than one second (RFC 9110 delay-seconds, no busy loop)
        (timedelta(milliseconds=300), 1),
        (timedelta(seconds=2), 2),  # answered processing after settleWithin: about as long again
        (timedelta(seconds=2.1), 3),  # whole seconds, rounded up
        (timedelta(seconds=4), 4),
        (timedelta(seconds=7.5), 3),  # the budget ends sooner than "as long again"
        (timedelta(seconds=10), 1),  # the budget is spent: the verdict is due any moment
        (timedelta(seconds=90), 1),  # a job left behind by a dead process: a worker is taking it over
        (timedelta(seconds=-5), 1),  # a replica whose clock runs behind the one that wrote the job
    ],
)
def test_retry_after_follows_the_elapsed_time_within_the_budget(elapsed: timedelta, expected: int) -> None:
    assert retry_after(START, BUDGET, START + elapsed) == expected


async def test_settled_within_reports_work_that_finishes_in_time() -> None:
    task = asyncio.create_task(asyncio.sleep(0))
    assert await settled_within(task, timedelta(seconds=30))


async def test_settled_within_leaves_slower_work_running() -> None:
    release = asyncio.Event()
    task = asyncio.create_task(release.wait())
    assert not await settled_within(task, timedelta(milliseconds=10))
    assert not task.cancelled()
    release.set()
    assert await task is True


async def test_a_zero_bound_does_not_wait_for_work_that_has_not_started() -> None:
    task = asyncio.create_task(asyncio.sleep(0))
    assert not await settled_within(task, timedelta(0))
    await task


async def test_supervised_work_that_crashes_is_logged_for_the_lease_to_take_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = JobWorker(cast(Database, None), SystemClock(), owner="test:1", kinds={})  # supervise needs neither

    async def crash() -> None:
        raise RuntimeError("the database went away")

    task = worker.supervise(crash(), name="finalize-o1")
    with pytest.raises(RuntimeError):
        await task
    await asyncio.sleep(0)  # done callbacks run on the next loop turn
    [record] = [r for r in caplog.records if r.name == "acmeca.acme.service.worker"]
    assert record.getMessage() == "job work failed; its lease will expire and it will be retried"
    assert getattr(record, "task", None) == "finalize-o1"
