"""Chaos: SQLite made unusable under a running `acmeca serve`, then usable again, without a restart.

The database lives on a small tmpfs of its own (we run as root in CI; without the right to mount, the test
skips and says so), so the disk can really fill up. In turn: another process holds the write lock past
``db.busyTimeout``; the disk is full; the database folder is moved away. Writes in the first two answer 503
with Retry-After; readiness answers 503 in all three while liveness stays 200; each outage is logged once
when it starts and once when it ends, without a traceback.

Not covered: a file made unreadable by its mode. The tests run as root, whom chmod does not stop, and a
connection that is already open keeps reading a file whatever its mode; moving the folder away is what
a running server can notice (the probe opens the file afresh, as a restart would).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from acmeca.config import parse_database
from acmeca.store.database import Database, database_settings
from acmeca.store.migrate import upgrade
from tests.support.ca_server import CAServer, init_ca
from tests.support.outage_load import Load, Minter, assert_outage_reply, log_lines

TMPFS_SIZE = "64m"  # room for the WAL to grow under load before the full-disk phase fills the rest


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(mount)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"a full disk needs a tmpfs of its own, and mounting one failed: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def _migrate(db: dict[str, str]) -> None:
    database = Database.connect(database_settings(parse_database(db)))
    try:
        await upgrade(database)
    finally:
        await database.close()


@pytest.fixture
def server(tmpfs: Path, tmp_path: Path) -> Iterator[CAServer]:
    (tmpfs / "db").mkdir()
    db = {"type": "sqlite", "dataSource": str(tmpfs / "db" / "acmeca.db"), "busyTimeout": "200ms"}
    asyncio.run(_migrate(db))
    ca = init_ca(tmp_path / "ca", db)
    ca.start()
    yield ca
    ca.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as client:
        yield client


def _fill(directory: Path) -> Path:
    """Write zeros until the file system refuses more."""
    filler = directory / "filler"
    with filler.open("wb") as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()
            os.fsync(handle.fileno())
    return filler


async def _outage(load: Load, *, writes_fail: bool, patience: float = 5.0) -> None:
    """Wait until readiness says 503 (and, when writes fail, signing does); then check it recovers."""
    began = time.monotonic()

    def seen(_: object) -> bool:
        ready = any(o.status == 503 for o in load.of("ready", after=began))
        return ready and (not writes_fail or any(o.status == 503 for o in load.of("sign", after=began)))

    await load.until(seen, patience=patience)


async def _recovered(load: Load, *, patience: float = 8.0) -> None:
    began = time.monotonic()
    await load.until(
        lambda _: all(any(o.status in (200, 201) for o in load.of(kind, after=began)) for kind in ("sign", "ready")),
        patience=patience,
    )


async def test_sqlite_lock_full_disk_and_missing_folder_answer_503_and_recover(
    server: CAServer, tmpfs: Path, session: aiohttp.ClientSession
) -> None:
    tls = ssl.create_default_context(cafile=str(server.root_path))
    load = Load(server, session, tls)
    load.sign_requests(Minter.of(server), workers=2)
    load.health_probes()
    await load.until(lambda _: len(load.of("sign")) >= 3, patience=20)
    async with session.get(f"{server.url}/health?probe=started", ssl=tls) as reply:
        assert reply.status == 400  # only ready and live are probes

    # Another process holds the write lock past busyTimeout.
    holder = sqlite3.connect(tmpfs / "db" / "acmeca.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    await _outage(load, writes_fail=True)
    holder.execute("ROLLBACK")
    holder.close()
    await _recovered(load)

    # The disk is full.
    filler = _fill(tmpfs)
    await _outage(load, writes_fail=True)
    filler.unlink()
    await _recovered(load)

    # The folder is moved away: writes still reach the open file, but a restart would not find it.
    (tmpfs / "db").rename(tmpfs / "moved")
    await _outage(load, writes_fail=False)
    (tmpfs / "moved").rename(tmpfs / "db")
    await _recovered(load)
    await load.stop()

    summary = load.summary()
    assert not [o for o in load.outcomes if o.status not in (200, 201, 503)], summary
    assert [o for o in load.of("sign") if o.status == 503], summary
    for outcome in [o for o in load.outcomes if o.status == 503]:
        assert_outage_reply(outcome)
    assert all(o.status == 200 for o in load.of("live")), "liveness must not depend on the database"

    log = server.log()
    started = log_lines(log, "acmeca.store.outages: database unavailable")
    assert len(started) == 3, log
    assert "database is locked" in started[0]
    assert "database or disk is full" in started[1]
    assert "unable to open database file" in started[2]
    assert len(log_lines(log, "acmeca.store.outages: database available again")) == 3, log
    assert "Traceback" not in log, log
