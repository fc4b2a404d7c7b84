"""Background loops during a database outage: they back off and carry on, quietly; the store logs the outage.

The database is a PostgreSQL URL nothing listens on, so every transaction fails as a real outage does
(ConnectionRefusedError → ServiceUnavailable) without stopping a server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import timedelta
from typing import Any

import pytest

from acmeca.acme.service.nonces import NonceService
from acmeca.acme.service.worker import JobWorker
from acmeca.config import CRLConfig
from acmeca.domain.clock import SystemClock
from acmeca.engine.crl import CRLService
from acmeca.runtime import Runtime
from acmeca.store.database import Database, DatabaseSettings


@pytest.fixture
async def unreachable() -> AsyncIterator[Database]:
    database = Database.connect(DatabaseSettings(url="postgresql+asyncpg://postgres@127.0.0.1:1/none"))
    yield database
    await database.close()


async def _runs_quietly(
    loop: Callable[[], Coroutine[Any, Any, None]], database: Database, caplog: pytest.LogCaptureFixture,
    *, attempts: int,
) -> None:
    """Run ``loop`` until the database was tried ``attempts`` times; it must still be running, having logged
    nothing but the store's one outage line (and debug notes)."""
    caplog.set_level(logging.DEBUG)
    tried = 0
    original = database.availability.failed

    def counting(error: BaseException, began: float) -> Any:
        nonlocal tried
        tried += 1
        return original(error, began)

    database.availability.failed = counting  # type: ignore[method-assign]
    task = asyncio.create_task(loop())
    async with asyncio.timeout(10):
        while tried < attempts:
            assert not task.done(), task
            await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    loud = [r for r in caplog.records if r.levelno > logging.DEBUG and r.name != "acmeca.store.outages"]
    assert not loud, [(r.name, r.getMessage()) for r in loud]
    assert not [r for r in caplog.records if r.exc_info]
    assert [r.getMessage() for r in caplog.records if r.name == "acmeca.store.outages"] == ["database unavailable"]


async def test_the_job_worker_backs_off_and_keeps_polling(
    unreachable: Database, caplog: pytest.LogCaptureFixture
) -> None:
    worker = JobWorker(unreachable, SystemClock(), owner="test", kinds={}, poll_interval=0.005)
    await _runs_quietly(worker.run_forever, unreachable, caplog, attempts=3)


async def test_the_nonce_sweep_skips_and_keeps_sweeping(
    unreachable: Database, caplog: pytest.LogCaptureFixture
) -> None:
    nonces = NonceService(unreachable, SystemClock())
    await _runs_quietly(lambda: nonces.sweep_forever(interval=0.005), unreachable, caplog, attempts=3)


async def test_the_crl_refresh_postpones_and_keeps_running(
    unreachable: Database, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = Runtime(cpu_workers=1)
    crl = CRLService(
        config=CRLConfig(enabled=True, cache_duration=timedelta(hours=1)), authority=lambda: pytest.fail("unused"),
        db=unreachable, clock=SystemClock(), runtime=runtime, idp_url="",
    )
    try:
        await _runs_quietly(crl.refresh_forever, unreachable, caplog, attempts=1)
    finally:
        await runtime.close()
