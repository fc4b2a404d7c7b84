"""Opening the database at start: connect, then migrate (embedded SQLite) or check the schema (PostgreSQL).

An SQLite database is opened under a shared lock on ``<database>.lock`` (acmeca.store.file_lock), held
until the database is closed: ``acmeca db restore`` refuses while any server holds it.
"""

from __future__ import annotations

from pathlib import Path

from acmeca.config import CAConfig, DatabaseConfig
from acmeca.store.database import Database, DatabaseSettings, database_settings
from acmeca.store.file_lock import DatabaseInUse, hold_shared
from acmeca.store.schema_version import SchemaMismatch, is_current


class StartupError(Exception):
    """A one-line reason the server cannot start."""


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def settings_of(db: DatabaseConfig) -> DatabaseSettings:
    if not db.type:
        raise StartupError("ca.json has no db: acmeca needs a database (sqlite or postgresql)")
    if db.type not in ("sqlite", "postgresql"):
        raise StartupError(
            f"db.type {db.type!r} is step-ca's own database, which acmeca cannot open: use sqlite or postgresql "
            "('acmeca init --from-step-ca' converts a step-ca)"
        )
    try:
        return database_settings(db)
    except ValueError as exc:
        raise StartupError(str(exc)) from None


async def open_database(config: CAConfig, *, migrate: bool | None) -> Database:
    """Connect and make sure the schema is current.

    ``migrate=None`` is serve's default: the embedded SQLite database is migrated in place, while PostgreSQL
    (shared by replicas, owned by an operator) must be migrated explicitly.
    """
    database = Database.connect(settings_of(config.db))
    try:
        _hold_sqlite_lock(database)
        if not await is_current(database):
            await _migrate_or_check(database, migrate)
    except (SchemaMismatch, StartupError) as exc:
        await database.close()
        raise StartupError(str(exc)) from None
    except Exception as exc:
        await database.close()
        raise StartupError(f"cannot open the database: {first_line(exc)}") from None
    return database


async def _migrate_or_check(database: Database, migrate: bool | None) -> None:
    from acmeca.store.migrate import check_current, upgrade  # alembic is loaded only for a schema not current

    if migrate or (migrate is None and database.dialect == "sqlite"):
        await upgrade(database)
    else:
        await check_current(database)


def _hold_sqlite_lock(database: Database) -> None:
    path = database.url.database if database.dialect == "sqlite" else None
    if not path or path == ":memory:":
        return
    try:
        lock = hold_shared(Path(path))
    except DatabaseInUse as exc:
        raise StartupError(
            f"a restore of the database is under way ({exc} is locked); start again once it is done"
        ) from None
    except OSError as exc:
        raise StartupError(f"cannot lock the database: {exc}") from None
    database.release_on_close(lock.release)
