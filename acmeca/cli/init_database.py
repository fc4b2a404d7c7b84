"""What ``acmeca init --remote-management`` writes to the database: its provisioners and first super admin.

A module of its own so that a plain ``init`` does not import the store, SQLAlchemy and the migrations.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from acmeca.cli.errors import CLIError
from acmeca.config import CAConfig, ProvisionerConfig
from acmeca.server.database import StartupError, open_database
from acmeca.server.stored_management import add_super_admin, store_provisioners
from acmeca.store import admins, provisioners
from acmeca.store.database import Database


async def _open(config: CAConfig) -> Database:
    try:
        return await open_database(config, migrate=None)  # SQLite is migrated in place, as serve does
    except StartupError as exc:
        raise CLIError(str(exc)) from None


async def refuse_used_database(config: CAConfig) -> None:
    """Checked before any file is written: init never mixes its provisioners with another CA's rows."""
    database = await _open(config)
    try:
        async with database.read() as tx:
            used = await provisioners.ever_stored(tx) or await admins.count(tx) > 0
    finally:
        await database.close()
    if used:
        raise CLIError(f"the database {config.db.data_source} already holds provisioners or admins: "
                       "remove it to start afresh, or init without --remote-management")


async def store_management(config: CAConfig, stored: list[ProvisionerConfig], subject: str) -> None:
    """The provisioners and the first SUPER_ADMIN (of the JWK one), in the database, as the admin API writes them."""
    database = await _open(config)
    try:
        now = datetime.now(UTC)
        async with database.write() as tx:
            entries = await store_provisioners(tx, stored, now=now)
            await add_super_admin(tx, subject, entries, admin_id=secrets.token_hex(16), now=now)
    finally:
        await database.close()
