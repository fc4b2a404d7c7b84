"""What a restored database must not reopen: the settings and counters ``acmeca db restore`` rewrites.

A backup is a past state of the CA. Restoring it forgets everything that happened after it, and some of
that must stay forgotten safely: nonces handed out after the backup, one-time tokens spent after it (their
``used_tokens`` rows are gone) and CRL numbers published after it. :func:`seal` runs in the same
transaction that makes the restored data live, so a database is never served restored but unsealed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from acmeca.store.schema import counters, crls, issuers, settings
from acmeca.store.transaction import Transaction

BACKUP_TAKEN_AT = "backup.taken_at"  # written into the copy by ``acmeca db backup``, never into the live database
RESTORED_AT = "restore.restored_at"  # Unix seconds of the latest restore; tokens issued before it are refused
CRL_COUNTER_PREFIX = "crl:"


@dataclass(frozen=True)
class Sealed:
    """What :func:`seal` changed, for the restore command's report."""

    restored_at: datetime
    crl_floor: int
    crl_counters: int


async def put_setting(tx: Transaction, name: str, value: str) -> None:
    """Set ``name`` whether or not it exists (delete + insert: the same statements on both backends)."""
    await tx.execute(settings.delete().where(settings.c.name == name))
    await tx.execute(settings.insert().values(name=name, value=value))


async def get_setting(tx: Transaction, name: str) -> str | None:
    value = await tx.scalar(sa.select(settings.c.value).where(settings.c.name == name))
    return None if value is None else str(value)


async def backup_taken_at(tx: Transaction) -> datetime | None:
    value = await get_setting(tx, BACKUP_TAKEN_AT)
    return None if value is None else datetime.fromisoformat(value)


_RESTORED_AT = sa.select(settings.c.value).where(settings.c.name == RESTORED_AT)


async def restored_at(tx: Transaction) -> datetime | None:
    """When the database was last restored from a backup (whole seconds), or None if it never was."""
    value = await tx.scalar(_RESTORED_AT)
    return None if value is None else datetime.fromtimestamp(int(value), UTC)


async def seal(
    tx: Transaction, *, now: datetime, secrets: dict[str, str], crl_counter_names: Iterable[str] = (),
) -> Sealed:
    """Mark the restore, replace the ``secrets`` settings, and move every CRL counter past a time floor.

    The floor is ``now`` in Unix seconds: the next CRL number is max(restored + 1, floor + 1). Numbers only
    grow by one per CRL, so any number published after the backup is below the floor as long as, since the
    counter was last floored (or since 1970), CRLs were not generated faster than one per second on average.
    A number stays far below RFC 5280's 20 octets (Unix seconds fit in 5). Stored CRLs carry the backup's
    older numbers, so they are dropped: the next request generates one with a new number.
    """
    floor = int(now.timestamp())
    # Token times are whole seconds: a token issued earlier in the restore's own second has iat == floor, so
    # the mark is the next second and "before the mark" covers it.
    mark = floor + 1
    await put_setting(tx, RESTORED_AT, str(mark))
    await tx.execute(settings.delete().where(settings.c.name == BACKUP_TAKEN_AT))
    for name, value in secrets.items():
        await put_setting(tx, name, value)
    names = set(crl_counter_names)
    names.update(await tx.scalars(sa.select(counters.c.name).where(counters.c.name.startswith(CRL_COUNTER_PREFIX))))
    names.update(
        CRL_COUNTER_PREFIX + str(ski)
        for ski in await tx.scalars(sa.select(issuers.c.ski).where(issuers.c.is_root.is_(False)))
    )
    for name in sorted(names):
        await _raise_counter(tx, name, floor)
    await tx.execute(crls.delete())
    return Sealed(restored_at=datetime.fromtimestamp(mark, UTC), crl_floor=floor, crl_counters=len(names))


async def _raise_counter(tx: Transaction, name: str, floor: int) -> None:
    current = await tx.scalar(sa.select(counters.c.value).where(counters.c.name == name))
    if current is None:
        await tx.execute(counters.insert().values(name=name, value=floor))
    elif int(current) < floor:
        await tx.execute(counters.update().where(counters.c.name == name).values(value=floor))


async def other_sessions(tx: Transaction) -> int:
    """PostgreSQL: how many other sessions are connected to this database (a running replica holds some)."""
    return int(await tx.scalar(sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )))
