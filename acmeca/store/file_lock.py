"""Who is using an SQLite database file: a lock on ``<database>.lock`` beside it.

Every process that serves the database (``acmeca serve``, each of its workers, offline commands) holds a
shared ``flock`` on that file for as long as it has the database open; ``acmeca db restore`` takes it
exclusively, so a restore cannot start under a running server and a server cannot start during a restore.
The kernel drops the lock when its holder exits, however it exits, so a crashed server never leaves a stale
marker behind. PostgreSQL is shared over the network, where a file lock means nothing.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class DatabaseInUse(Exception):
    """The lock is held the other way: a server is running, or a restore is under way."""


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class DatabaseLock:
    """One held lock; :meth:`release` (or process exit) lets it go."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd: int | None = fd
        self.path = path

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None


def _take(database: Path, operation: int) -> DatabaseLock:
    path = lock_path(database)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DatabaseInUse(str(path)) from None
    except BaseException:
        os.close(fd)
        raise
    return DatabaseLock(fd, path)


def hold_shared(database: Path) -> DatabaseLock:
    """A server's lock; DatabaseInUse while a restore holds the file."""
    return _take(database, fcntl.LOCK_SH)


def hold_exclusive(database: Path) -> DatabaseLock:
    """A restore's lock; DatabaseInUse while any server holds the file."""
    return _take(database, fcntl.LOCK_EX)
