"""Database fixtures: every storage test runs on SQLite and on PostgreSQL.

``backend`` is the parameter; ``ca_db`` gives a ca.json ``db`` object for a fresh, migrated database;
``database`` gives an open :class:`acmeca.store.database.Database` on it.
"""

from __future__ import annotations

import asyncio
import atexit
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from acmeca.config import parse_database
from acmeca.store.database import Database, database_settings
from acmeca.store.migrate import MIGRATIONS, upgrade
from tests.support.postgres import PostgresServer, create_database, drop_database, postgres_server

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
_TEMPLATE = f"acmeca_template_{secrets.token_hex(4)}"
_template_ready = False


async def _migrate(db_config: dict[str, Any]) -> None:
    database = Database.connect(database_settings(parse_database(db_config)))
    try:
        await upgrade(database)
    finally:
        await database.close()


def _postgres_template(server: PostgresServer) -> str:
    """A migrated template database: each test's database is a cheap copy of it."""
    global _template_ready
    if not _template_ready:

        async def build() -> None:
            await drop_database(server, _TEMPLATE)
            dsn = await create_database(server, _TEMPLATE)
            await _migrate({"type": "postgresql", "dataSource": dsn})

        asyncio.run(build())
        atexit.register(lambda: asyncio.run(drop_database(server, _TEMPLATE)))
        _template_ready = True
    return _TEMPLATE


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module", params=BACKENDS)
def module_backend(request: pytest.FixtureRequest) -> str:
    """Like ``backend``, for module-scoped fixtures such as a CA shared by read-only tests."""
    return str(request.param)


_session_database: str | None = None
_sqlite_template_path: Path | None = None


def _sqlite_template() -> Path:
    """A migrated SQLite file, made once per test process: each test's database is a copy of it."""
    global _sqlite_template_path
    if _sqlite_template_path is None:
        directory = Path(tempfile.mkdtemp(prefix="acmeca-template-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        path = directory / "acmeca.db"
        asyncio.run(_migrate({"type": "sqlite", "dataSource": str(path)}))
        _sqlite_template_path = path
    return _sqlite_template_path


async def _empty_all(dsn: str) -> None:
    """Delete every row, children before parents, and restart the sequences: what TRUNCATE ... RESTART IDENTITY
    does, at a tenth of its cost on tables that hold a test's few rows (TRUNCATE replaces each table's files)."""
    import asyncpg

    from acmeca.store.schema import metadata

    connection = await asyncpg.connect(dsn)
    try:
        present = {r["tablename"] for r in await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )}
        ordered = [t.name for t in reversed(metadata.sorted_tables) if t.name in present]
        ordered += sorted(present - set(ordered))  # a table a test made for itself
        sequences = [r["sequencename"] for r in await connection.fetch(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
        )]
        statements = [f'DELETE FROM "{name}"' for name in ordered]
        statements += [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]
        async with connection.transaction():
            await connection.execute(";\n".join(statements))
    finally:
        await connection.close()


def _session_postgres(server: PostgresServer) -> str:
    """One migrated database per test session, emptied before each test: far cheaper than a database each."""
    global _session_database
    if _session_database is None:
        name = f"acmeca_test_{secrets.token_hex(6)}"
        asyncio.run(create_database(server, name, template=_postgres_template(server)))
        atexit.register(lambda: asyncio.run(drop_database(server, name)))
        _session_database = name
    return server.dsn_for(_session_database)


def fresh_db_config(backend: str, directory: Path, *, exclusive: bool = False) -> tuple[dict[str, Any], Any]:
    """A migrated, empty database and a function that cleans up after it.

    ``exclusive`` gives PostgreSQL a database of its own (for fixtures that outlive one test, such as a CA
    shared by a module); otherwise the session's database is emptied and reused.
    """
    if backend == "sqlite":
        path = directory / "acmeca.db"
        shutil.copyfile(_sqlite_template(), path)
        return {"type": "sqlite", "dataSource": str(path)}, lambda: None
    server = postgres_server()
    if not exclusive:
        dsn = _session_postgres(server)
        asyncio.run(_empty_all(dsn))
        return {"type": "postgresql", "dataSource": dsn}, lambda: None
    name = f"acmeca_test_{secrets.token_hex(6)}"
    dsn = asyncio.run(create_database(server, name, template=_postgres_template(server)))
    return {"type": "postgresql", "dataSource": dsn}, lambda: asyncio.run(drop_database(server, name))


@pytest.fixture
def ca_db(backend: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    config, drop = fresh_db_config(backend, tmp_path)
    yield config
    drop()


@pytest.fixture
async def database(ca_db: dict[str, Any]) -> AsyncIterator[Database]:
    db = Database.connect(database_settings(parse_database(ca_db)))
    yield db
    await db.close()


async def migrate_to(database: Database, revision: str, *, down: bool = False) -> None:
    """Run alembic up (or down) to ``revision`` on ``database``, as ``acmeca db migrate`` would."""

    def run(sync: sa.Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = sync
        (command.downgrade if down else command.upgrade)(config, revision)

    async with database.engine.connect() as conn:
        await conn.run_sync(run)
        await conn.commit()
