"""One-time tokens already spent: the database is the replay guard, so a token is good once across restarts and
replicas.

A token is spent by inserting its reuse key; the primary key makes a second insert a no-op on every replica, so
exactly one request wins. Rows carry the token's own expiry and are swept after it: a replay past ``exp`` is
refused by the time check anyway.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite

from acmeca.store.database import Database
from acmeca.store.schema import used_tokens


class UsedTokenRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def spend(self, key: str, *, kind: str, expires_at: datetime) -> bool:
        """Record ``key`` as used; False when it had been used before."""
        async with self._db.write() as conn:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            statement = (
                insert(used_tokens)
                .values(key=key, kind=kind, expires_at=expires_at)
                .on_conflict_do_nothing(index_elements=["key"])
            )
            result = await conn.execute(statement)
            return result.rowcount == 1

    async def sweep(self, now: datetime) -> int:
        """Forget tokens whose expiry has passed; returns how many rows went."""
        async with self._db.write() as conn:
            result = await conn.execute(used_tokens.delete().where(used_tokens.c.expires_at < now))
            return int(result.rowcount)
