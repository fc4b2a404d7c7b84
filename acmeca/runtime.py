"""Supervised background tasks and a bounded executor for CPU-heavy crypto.

RSA key generation and certificate/CRL signing release the GIL in cryptography, so a small thread pool gives
real parallelism without blocking the event loop. Microsecond operations (ECDSA verify) stay inline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger(__name__)


class Runtime:
    """Owns the CPU executor and every long-lived background task of one process."""

    def __init__(self, *, cpu_workers: int | None = None) -> None:
        workers = cpu_workers or min(4, (os.cpu_count() or 1) + 1)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="acmeca-cpu")
        self._tasks: set[asyncio.Task[None]] = set()

    async def run_cpu(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: func(*args, **kwargs))

    def spawn(self, name: str, factory: Callable[[], Coroutine[Any, Any, None]]) -> asyncio.Task[None]:
        """Start a supervised task: an unexpected exception is logged and the task restarted after a pause."""
        task = asyncio.create_task(self._supervise(name, factory), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def spawn_once(self, name: str, coroutine: Awaitable[None]) -> asyncio.Task[None]:
        """A one-shot task (a SIGHUP reload) the runtime cancels on shutdown; a failure is logged, not raised."""

        async def wrapper() -> None:
            try:
                await coroutine
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task failed", extra={"task": name})

        task = asyncio.create_task(wrapper(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _supervise(self, name: str, factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        while True:
            try:
                await factory()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task crashed; restarting", extra={"task": name})
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._executor.shutdown(wait=True, cancel_futures=True)
