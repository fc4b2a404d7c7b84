"""Find or start a PostgreSQL server for the tests; never skip.

Order: ``ACMECA_TEST_POSTGRES_DSN``; else a server on 127.0.0.1:5432 if one answers; else a throwaway cluster
made with the system's ``initdb``/``pg_ctl`` on a free port (as the ``postgres`` user when we are root, since
both refuse to run as root). The tests fail, loudly, if none of that works.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

import asyncpg

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class PostgresServer:
    admin_dsn: str  # connects to the maintenance database as a superuser

    def dsn_for(self, database: str) -> str:
        base, _, _ = self.admin_dsn.rpartition("/")
        return f"{base}/{database}"


async def _answers(dsn: str) -> bool:
    try:
        connection = await asyncpg.connect(dsn, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise RuntimeError(f"PostgreSQL tests need {name} (Debian: apt-get install postgresql)")
    return found


@dataclass
class Cluster:
    """A throwaway cluster made with initdb, which a test may stop and start again (an outage on demand)."""

    directory: str
    port: int

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def _data(self) -> str:
        return os.path.join(self.directory, "data")

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run([_pg_binary("pg_ctl"), "-D", self._data, *args], check=True, capture_output=True,
                       **_as_postgres())  # type: ignore[arg-type]

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-o", options, "-w", "-l", os.path.join(self.directory, "log"), "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends every session (clients see their connections close); ``immediate`` also skips the
        shutdown checkpoint, as a crash would."""
        self._pg_ctl("-m", mode, "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


def _as_postgres() -> dict[str, object]:
    """initdb and pg_ctl refuse to run as root: run them as ``postgres`` then."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam("postgres")
    return {"user": user.pw_uid, "group": user.pw_gid}


def new_cluster() -> Cluster:
    """initdb a cluster in a fresh directory on a free port and start it."""
    directory = tempfile.mkdtemp(prefix="acmeca-pg-")
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(directory, user.pw_uid, user.pw_gid)
    subprocess.run(
        [_pg_binary("initdb"), "-D", os.path.join(directory, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
        **_as_postgres(),  # type: ignore[arg-type]
    )
    cluster = Cluster(directory, _free_port())
    cluster.start()
    return cluster


def _start_cluster() -> PostgresServer:
    cluster = new_cluster()
    atexit.register(cluster.remove)
    return PostgresServer(cluster.admin_dsn)


_server: PostgresServer | None = None


def postgres_server() -> PostgresServer:
    global _server
    if _server is not None:
        return _server
    configured = os.environ.get("ACMECA_TEST_POSTGRES_DSN")
    if configured:
        if not asyncio.run(_answers(configured)):
            raise RuntimeError(f"ACMECA_TEST_POSTGRES_DSN={configured} does not answer")
        _server = PostgresServer(configured)
    elif asyncio.run(_answers(DEFAULT_DSN)):
        _server = PostgresServer(DEFAULT_DSN)
    else:
        _server = _start_cluster()
        deadline = time.monotonic() + 30
        while not asyncio.run(_answers(_server.admin_dsn)):
            if time.monotonic() > deadline:
                raise RuntimeError("the throwaway PostgreSQL cluster did not come up")
            time.sleep(0.2)
    return _server


async def create_database(server: PostgresServer, name: str, *, template: str | None = None) -> str:
    connection = await asyncpg.connect(server.admin_dsn)
    try:
        clause = f' TEMPLATE "{template}"' if template else ""
        await connection.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await connection.close()
    return server.dsn_for(name)


async def drop_database(server: PostgresServer, name: str) -> None:
    connection = await asyncpg.connect(server.admin_dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
