"""Copying SQLite databases whole with SQLite's online backup API (``acmeca db backup`` and ``restore``).

The backup API copies a consistent snapshot while other connections keep reading and writing, so a backup
needs no downtime; writing into the destination is one transaction of the destination, so a copy into a
live file is either all there or not at all (the old content stays on any failure, including a crash).
These functions are synchronous: the CLI runs them, not the event loop of a server.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from acmeca.store.restore import BACKUP_TAKEN_AT

BUSY_SECONDS = 10.0


class NotABackup(Exception):
    """The file is not an SQLite database written by ``acmeca db backup``."""


@contextmanager
def _connect(path: Path, *, read_only: bool = False) -> Iterator[sqlite3.Connection]:
    uri = f"file:{quote(str(path))}?mode={'ro' if read_only else 'rwc'}"
    connection = sqlite3.connect(uri, uri=True, timeout=BUSY_SECONDS, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def copy_database(source: Path, destination: Path) -> None:
    """``source`` into ``destination`` (created if missing) in one step of the backup API."""
    with _connect(source, read_only=True) as reader, _connect(destination) as writer:
        reader.backup(writer)


def write_backup(database: Path, destination: Path, taken_at: datetime) -> None:
    """A snapshot of ``database`` at ``destination``, stamped with ``taken_at``, renamed into place whole.

    The copy is a self-contained file (rollback journal, not WAL) so it can be moved and archived alone.
    """
    temporary = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    try:
        if not database.exists():
            raise FileNotFoundError(2, "No such file or directory", str(database))
        copy_database(database, temporary)
        with _connect(temporary) as copy:
            copy.execute("PRAGMA journal_mode=DELETE")
            copy.execute("DELETE FROM settings WHERE name = ?", (BACKUP_TAKEN_AT,))
            copy.execute("INSERT INTO settings (name, value) VALUES (?, ?)", (BACKUP_TAKEN_AT, taken_at.isoformat()))
        _fsync(temporary)
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)


def read_backup_time(backup: Path) -> datetime:
    """When ``backup`` was taken; NotABackup for any file ``acmeca db backup`` did not write."""
    if not backup.is_file():
        raise NotABackup(f"{backup} is not a file")
    try:
        with _connect(backup, read_only=True) as reader:
            row = reader.execute("SELECT value FROM settings WHERE name = ?", (BACKUP_TAKEN_AT,)).fetchone()
    except sqlite3.DatabaseError as exc:
        raise NotABackup(f"{backup} is not an acmeca database ({exc})") from None
    if row is None:
        raise NotABackup(f"{backup} was not written by 'acmeca db backup' (it has no backup time)")
    return datetime.fromisoformat(str(row[0]))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
