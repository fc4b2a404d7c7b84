"""Opening a current database skips alembic; anything else still goes through it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import sqlalchemy as sa

from acmeca.config import CAConfig, parse_database
from acmeca.server.database import StartupError, open_database
from acmeca.store import migrate
from acmeca.store.database import Database, database_settings
from acmeca.store.schema_version import HEAD_REVISION, is_current
from tests.support.databases import fresh_db_config


def _config(db: dict[str, Any]) -> CAConfig:
    """open_database reads only ``db``."""
    return cast(CAConfig, SimpleNamespace(db=parse_database(db)))


def test_the_constant_is_the_head_of_the_packaged_migrations() -> None:
    assert migrate.head_revision() == HEAD_REVISION


async def _set_revision(database: Database, revision: str) -> None:
    async with database.write() as tx:
        await tx.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": revision})


async def test_a_current_database_is_opened_without_alembic(
    ca_db: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    async def record(name: str) -> None:
        calls.append(name)

    monkeypatch.setattr(migrate, "upgrade", lambda db: record("upgrade"))
    monkeypatch.setattr(migrate, "check_current", lambda db: record("check_current"))
    database = await open_database(_config(ca_db), migrate=None)
    try:
        assert calls == []
        await _set_revision(database, "0002")
        assert not await is_current(database)
        second = await open_database(_config(ca_db), migrate=None)
        await second.close()
        assert calls == ["upgrade" if database.dialect == "sqlite" else "check_current"]
    finally:
        await _set_revision(database, HEAD_REVISION)  # the PostgreSQL database is shared by the session
        await database.close()


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_an_older_postgresql_schema_is_still_refused(ca_db: dict[str, Any]) -> None:
    """SQLite is migrated in place; a PostgreSQL schema belongs to its operator."""
    database = Database.connect(database_settings(parse_database(ca_db)))
    try:
        await _set_revision(database, "0002")
        with pytest.raises(StartupError, match="older than this acmeca"):
            await open_database(_config(ca_db), migrate=None)
    finally:
        await _set_revision(database, HEAD_REVISION)
        await database.close()


def test_a_server_start_on_a_current_database_does_not_load_alembic(tmp_path: Path) -> None:
    db, _ = fresh_db_config("sqlite", tmp_path)
    probe = (
        "import asyncio, json, sys\n"
        "from types import SimpleNamespace\n"
        "from acmeca.config import parse_database\n"
        "from acmeca.server.database import open_database\n"
        "async def main():\n"
        f"    database = await open_database(SimpleNamespace(db=parse_database({db!r})), migrate=None)\n"
        "    await database.close()\n"
        "asyncio.run(main())\n"
        "print('alembic' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False", result.stderr
