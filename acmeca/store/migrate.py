"""Schema migrations, run explicitly (``acmeca db migrate``) or by ``serve`` where that is safe.

On PostgreSQL the upgrade runs under an advisory lock so replicas starting together do not race; SQLite's
write lock serialises it by itself.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from acmeca.store.database import Database
from acmeca.store.schema_version import SchemaMismatch

__all__ = ["MIGRATIONS", "SchemaMismatch", "check_current", "head_revision", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")
_ADVISORY_LOCK_ID = 0x61636D65  # "acme"
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def _alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:
        raise SchemaMismatch("no migrations are packaged")
    return head


def _known_revisions() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


def _process_lock() -> asyncio.Lock:
    """Alembic keeps its migration context in module globals: one upgrade at a time per process and loop."""
    loop = asyncio.get_running_loop()
    lock = _LOCKS.get(loop)
    if lock is None:
        lock = _LOCKS[loop] = asyncio.Lock()
    return lock


async def upgrade(db: Database) -> tuple[str | None, str]:
    """Apply pending migrations; return (revision before, revision after)."""
    async with _process_lock():
        return await _upgrade(db)


async def _upgrade(db: Database) -> tuple[str | None, str]:
    async with db.engine.connect() as conn:
        # SQLite: take the write lock up front so two processes cannot both decide to create the schema.
        conn = await conn.execution_options(sqlite_begin="IMMEDIATE")
        if db.dialect == "postgresql":
            await conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
            await conn.commit()
        try:
            before = await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
            if before is not None and before not in _known_revisions():
                raise SchemaMismatch(
                    f"database schema {before} is newer than this acmeca knows (head {head_revision()})"
                )
            await conn.run_sync(lambda sync: command.upgrade(_alembic_config(sync), "head"))
            await conn.commit()
        finally:
            if db.dialect == "postgresql":
                await conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _ADVISORY_LOCK_ID})
                await conn.commit()
    return before, head_revision()


async def check_current(db: Database) -> None:
    """Refuse to run against a schema older or newer than this build's head."""
    current = await current_revision(db)
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaMismatch("the database has no acmeca schema: run 'acmeca db migrate' (or serve --migrate)")
    if current in _known_revisions():
        raise SchemaMismatch(
            f"the database schema ({current}) is older than this acmeca ({head}): "
            "run 'acmeca db migrate' (or serve --migrate)"
        )
    raise SchemaMismatch(f"the database schema ({current}) is newer than this acmeca knows ({head})")
