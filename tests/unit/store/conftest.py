"""Databases with no schema at all, for migration tests that choose which revisions run."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from acmeca.config import parse_database
from acmeca.store.database import Database, database_settings
from tests.support.postgres import create_database, drop_database, postgres_server


@pytest.fixture
def empty_db_config(backend: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    if backend == "sqlite":
        yield {"type": "sqlite", "dataSource": str(tmp_path / "legacy.db")}
        return
    server, name = postgres_server(), f"acmeca_legacy_{secrets.token_hex(6)}"
    yield {"type": "postgresql", "dataSource": asyncio.run(create_database(server, name))}
    asyncio.run(drop_database(server, name))


@pytest.fixture
async def empty_database(empty_db_config: dict[str, Any]) -> AsyncIterator[Database]:
    database = Database.connect(database_settings(parse_database(empty_db_config)))
    yield database
    await database.close()
