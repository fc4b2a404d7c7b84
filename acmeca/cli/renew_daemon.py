"""The renewal daemon: what internal services live on (``acmeca renew --daemon``).

It renews at two thirds of the lifetime minus up to a twentieth of jitter (so a fleet issued together does
not renew together), or every ``--renew-period``; renews at once on SIGHUP; after each renewal runs
``--exec`` or signals the process in ``--pid-file``; and, while the CA is unreachable, retries with capped
exponential backoff so a CA restart costs a few seconds, not a missed renewal. Every step is logged.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from acmeca.cli.errors import CLIError
from acmeca.domain.clock import Clock, SystemClock
from acmeca.domain.durations import format_duration
from acmeca.domain.encoding import rfc3339

FIRST_BACKOFF = timedelta(seconds=1)
MAX_BACKOFF = timedelta(seconds=30)


@dataclass
class RenewSchedule:
    """When to renew next; the clock and the randomness are injected so tests can freeze both."""

    renew_period: timedelta | None = None
    expires_in: timedelta | None = None
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self, leaf: x509.Certificate, now: datetime) -> timedelta:
        """step's nextRenewDuration: a fixed period, else ``notAfter − lifetime/3 − jitter(lifetime/20)``."""
        remaining = leaf.not_valid_after_utc - now
        if self.renew_period is not None:
            return timedelta(0) if remaining - self.renew_period <= timedelta(0) else self.renew_period
        lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
        until = remaining - (self.expires_in or lifetime / 3)
        if until <= timedelta(0):
            return timedelta(0)
        jitter_cap = lifetime / 20
        if until < jitter_cap:
            return timedelta(seconds=self.rng.uniform(0, until.total_seconds()))
        return until - timedelta(seconds=self.rng.uniform(0, jitter_cap.total_seconds()))


def next_backoff(previous: timedelta | None) -> timedelta:
    return FIRST_BACKOFF if previous is None else min(previous * 2, MAX_BACKOFF)


@dataclass(frozen=True)
class DaemonOptions:
    schedule: RenewSchedule
    exec_command: str | None = None
    pid_file: Path | None = None
    signal_number: int = int(signal.SIGHUP)


def log(level: str, message: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y/%m/%d %H:%M:%S")
    print(f"{stamp} {level}: {message}", file=sys.stderr, flush=True)


class RenewDaemon:
    def __init__(
        self, renew: Callable[[], Awaitable[x509.Certificate]], current: Callable[[], list[x509.Certificate]],
        options: DaemonOptions, *, clock: Clock | None = None,
    ) -> None:
        self._renew = renew
        self._current = current
        self._options = options
        self._clock = clock or SystemClock()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        try:
            first = True
            while not self._stop.is_set():
                delay = self._options.schedule.next_delay(self._current()[0], self._clock.now())
                log("INFO", f"{'first' if first else 'next'} renewal in {format_duration(delay)}")
                first = False
                if await self._sleep(delay) and self._stop.is_set():
                    break
                await self._renew_with_backoff()
        finally:
            for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        log("INFO", "renewal daemon stopped")
        return 0

    def _on_sighup(self) -> None:
        log("INFO", "SIGHUP received: renewing now")
        self._wake.set()

    async def _sleep(self, delay: timedelta) -> bool:
        """Sleep ``delay`` unless woken (SIGHUP, stop); True when woken early."""
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(self._stop.wait())]
        done, pending = await asyncio.wait(waiters, timeout=max(delay.total_seconds(), 0),
                                           return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        self._wake.clear()
        return bool(done)

    async def _renew_with_backoff(self) -> None:
        backoff: timedelta | None = None
        while not self._stop.is_set():
            try:
                leaf = await self._renew()
            except CLIError as exc:
                backoff = next_backoff(backoff)
                log("ERROR", f"renewal failed: {exc}; retrying in {format_duration(backoff)}")
                await self._sleep(backoff)
                continue
            expires = rfc3339(leaf.not_valid_after_utc)
            log("INFO", f"certificate renewed: serial {leaf.serial_number}, expires {expires}")
            await self._after_renewal()
            return

    async def _after_renewal(self) -> None:
        if self._options.exec_command:
            process = await asyncio.create_subprocess_shell(self._options.exec_command)
            code = await process.wait()
            log("INFO" if code == 0 else "ERROR", f"--exec command exited with {code}")
        if self._options.pid_file is not None:
            try:
                pid = int(self._options.pid_file.read_text().strip())
                os.kill(pid, self._options.signal_number)
                log("INFO", f"sent signal {self._options.signal_number} to process {pid}")
            except (OSError, ValueError) as exc:
                log("ERROR", f"cannot signal the process in {self._options.pid_file}: {exc}")
