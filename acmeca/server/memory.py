"""Give the memory of closed connections back to the operating system (glibc's ``malloc_trim``).

Each TLS connection costs about 0.3 MB, most of it asyncio's 256 KiB TLS read buffer. When a burst of
connections closes, glibc keeps the freed memory in its heap for reuse, so the process's RSS stays at the
burst's peak indefinitely (measured: 94 MB quiet, 380 MB after 1,000 connections had opened and closed).
``malloc_trim(0)`` returns free heap pages; with it RSS falls back to within a few MB of quiet after each
burst (bench/connection_memory.py). Other C libraries have no such call; there it is a no-op.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

TRIM_AFTER_CLOSES = 256  # a burst worth returning: ~75 MB of TLS buffers
TRIM_DELAY = 1.0  # seconds: let the rest of a burst close first, so one trim serves it


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


class MemoryReturner:
    """Counts closed connections and, after enough of them, trims the heap once (debounced)."""

    def __init__(self, trim: Callable[[int], int] | None = None, *, after: int = TRIM_AFTER_CLOSES) -> None:
        self._trim = trim if trim is not None else _malloc_trim()
        self._after = after
        self._closed = 0
        self._scheduled: asyncio.TimerHandle | None = None

    def connection_closed(self) -> None:
        self._closed += 1
        if self._trim is not None and self._closed >= self._after and self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_later(TRIM_DELAY, self._run)

    def _run(self) -> None:
        self._scheduled = None
        self._closed = 0
        assert self._trim is not None
        self._trim(0)
        log.debug("returned freed connection memory to the system")

    def cancel(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
