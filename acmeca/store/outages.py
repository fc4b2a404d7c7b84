"""Database outages: which failures mean "the database is unavailable", and one log line per outage.

A stopped or unreachable PostgreSQL, an exhausted connection pool, SQLite's write lock held by another process
past the busy timeout, an unreadable database file or a full disk are not bugs in a request: they last a while
and end on their own. ``Database`` turns each of them into :class:`ServiceUnavailable` (503 with Retry-After at
every edge) and reports it to :class:`Availability`, which logs when an outage starts and when it ends, once
each, instead of a traceback per request. Anything else (a constraint violation, a bad statement) is not an
outage and propagates unchanged.

An outage ends only when the background probe (``Database.watch``) succeeds *and* no request met an outage
since the probe before it, so requests still failing on a half-recovered database (a full disk the probe's
read cannot see) keep it open rather than making it flap, and a request that started before the recovery and
fails after it does not reopen it.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

from sqlalchemy import exc as sa_exc

from acmeca import metrics
from acmeca.domain.errors import ServiceUnavailable

log = logging.getLogger(__name__)
RETRY_AFTER = timedelta(seconds=5)
UNAVAILABLE = "the database is unavailable, try again"

# SQLite primary result codes that say the file cannot be used right now rather than that a statement is wrong:
# BUSY, LOCKED, NOMEM, READONLY, IOERR, CORRUPT (also what a replaced file reads as), FULL, CANTOPEN, PROTOCOL.
_SQLITE_OUTAGE_CODES = frozenset({5, 6, 7, 8, 10, 11, 13, 14, 15})
# PostgreSQL SQLSTATEs and classes of the same kind: connection exceptions (08), insufficient resources (53:
# disk full, out of memory, too many connections), operator intervention (57P01-57P03: shutdown, crash
# recovery, starting up), system errors (58: I/O) and a read-only transaction (25006: a standby after failover).
_POSTGRES_OUTAGE_CLASSES = ("08", "53", "58")
_POSTGRES_OUTAGE_STATES = frozenset({"57P01", "57P02", "57P03", "25006"})


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what it wraps: SQLAlchemy's ``orig``, the asyncpg adapter's driver exception, causes."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend((current.__cause__, getattr(current, "orig", None), getattr(current, "driver_exception", None)))


def _is_outage_code(error: BaseException) -> bool:
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _SQLITE_OUTAGE_CODES
    state = getattr(error, "sqlstate", None)
    if isinstance(state, str):
        return state in _POSTGRES_OUTAGE_STATES or state[:2] in _POSTGRES_OUTAGE_CLASSES
    return False


def is_outage(error: BaseException, *, connecting: bool) -> bool:
    """Whether ``error`` means the database is unavailable rather than that a statement failed.

    ``connecting``: raised while opening, beginning or committing the transaction. Only then do a bare OSError
    or TimeoutError count: asyncpg raises them unwrapped when it cannot connect (ConnectionRefusedError while
    the server is stopped), while the same classes raised by a transaction's body may have nothing to do with
    the database.
    """
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection came free within the pool timeout
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if connecting and isinstance(error, OSError | TimeoutError):
        return True
    return any(_is_outage_code(link) for link in _chain(error))


def root_cause(error: BaseException) -> BaseException:
    """The driver's own exception under SQLAlchemy's wrappers and adapters: its class and message name the
    outage (CannotConnectNowError "the database system is shutting down", sqlite3's "database is locked")."""
    found = error
    for link in _chain(error):
        if not type(link).__module__.startswith("sqlalchemy"):
            found = link
    return found


class Availability:
    """Whether the database is usable, as last seen by requests and the probe; logs each transition once.

    Callers take a ticket (:meth:`attempt`) before they touch the database and hand it back with a failure, so
    a failure that began before the outage ended is told apart from a new outage.
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._now = monotonic
        self._down_since: float | None = None
        self._changed_at = monotonic()
        self._failed_since_probe = False
        metrics.DATABASE_UP.set(1)

    @property
    def available(self) -> bool:
        return self._down_since is None

    def attempt(self) -> float:
        return self._now()

    def failed(self, error: BaseException, began: float) -> ServiceUnavailable:
        """Record an outage failure; returns the error to raise in its place."""
        metrics.DATABASE_ERRORS.inc()
        self._failed_since_probe = True
        if self._down_since is None and began >= self._changed_at:
            cause = root_cause(error)
            self._down_since = self._changed_at = self._now()
            metrics.DATABASE_UP.set(0)
            log.warning("database unavailable", extra={"error": type(cause).__name__, "reason": _first_line(cause)})
        return ServiceUnavailable(UNAVAILABLE, retry_after=RETRY_AFTER)

    def probe_failed(self, error: BaseException, began: float) -> None:
        """The probe found the database unavailable; like a request's failure, but it starts a new window."""
        self.failed(error, began)
        self._failed_since_probe = False

    def probed(self, began: float) -> None:
        """The probe that began at ``began`` succeeded: an outage ends if nothing failed since the last probe."""
        quiet = not self._failed_since_probe
        self._failed_since_probe = False
        if self._down_since is None or not quiet or began < self._changed_at:
            return
        now = self._now()
        log.info("database available again", extra={"outage_seconds": round(now - self._down_since, 1)})
        self._down_since = None
        self._changed_at = now
        metrics.DATABASE_UP.set(1)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:200] if lines else ""
