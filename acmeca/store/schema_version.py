"""The schema revision this build runs on, known without loading alembic.

A server nearly always starts on a database that is already current. Alembic, its script directory and the
migration modules cost a tenth of a second or more to load, on every start and every worker; they are loaded
only when the stored revision differs from ``HEAD_REVISION`` (acmeca.store.migrate). A unit test keeps this
constant equal to the head of the packaged migrations.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from acmeca.store.database import Database

HEAD_REVISION = "0003"

_STORED = sa.text("SELECT version_num FROM alembic_version")


class SchemaMismatch(Exception):
    """The database schema is not the one this build knows."""


async def is_current(db: Database) -> bool:
    """True when the database says it is at ``HEAD_REVISION``; any doubt (no table yet, several rows, an
    error) is False, and the caller takes alembic's path, which explains what is wrong."""
    try:
        async with db.engine.connect() as conn:
            stored = (await conn.execute(_STORED)).scalars().all()
    except SQLAlchemyError:
        return False
    return stored == [HEAD_REVISION]
