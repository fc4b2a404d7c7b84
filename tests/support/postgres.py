"""Find or start a PostgreSQL server for the tests; never skip.

Order: ``ACMECA_TEST_POSTGRES_DSN``; else a server on 127.0.0.1:5432 if one answers; else a throwaway cluster
made with the system's ``initdb``/``pg_ctl`` on a free port (as the ``postgres`` user when we are root, since
both refuse to run as root). The tests fail, loudly, if none of that works.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import time
from dataclasses import dataclass

import asyncpg

from bench.postgres import Cluster

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


def new_cluster() -> Cluster:
    """A started throwaway cluster (bench.postgres), which a test may stop and start again."""
    cluster = Cluster()
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
