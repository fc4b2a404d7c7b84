"""With remote management, provisioners and admins live in the database, as current step CLIs set them up.

``acmeca init --remote-management`` writes its provisioners and the first SUPER_ADMIN here and leaves ca.json's
list empty. A ca.json that still lists provisioners with ``enableAdmin`` on (as acmeca's init wrote until
then) is imported once, on the first start that finds no provisioner row, as step-ca migrates it; from then on
ca.json's list is ignored, with a warning at every start that still finds one.

Rows written here are exactly what the admin API writes: the ca.json-shaped object, read back through the
same typed parser. Each keeps the id the catalog gave it as a ca.json entry (derived from type and name), so
certificates, ACME accounts, EAB keys, policies and admins that name a provisioner by id still find it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from acmeca.config import CAConfig, ProvisionerConfig
from acmeca.domain.clock import Clock
from acmeca.domain.errors import Conflict
from acmeca.domain.management import AdminRecord, AdminType, StoredProvisioner
from acmeca.domain.status import ProvisionerType
from acmeca.engine.catalog import ProvisionerEntry, config_entry
from acmeca.store import admins, provisioners
from acmeca.store.database import Database
from acmeca.store.transaction import Transaction

log = logging.getLogger(__name__)
IGNORED = (
    "ca.json authority.provisioners is ignored: with remote management (authority.enableAdmin) provisioners "
    "live in the database; manage them with `acmeca provisioner` and remove the list from ca.json"
)


def served_from_config(config: CAConfig, *, remote_management: bool) -> Sequence[ProvisionerConfig]:
    """The ca.json provisioners the catalog serves: none when the CA started with remote management."""
    return () if remote_management else config.authority.provisioners


async def store_provisioners(
    tx: Transaction, configs: Sequence[ProvisionerConfig], *, now: datetime
) -> list[ProvisionerEntry]:
    """Insert ca.json-shaped provisioners as the admin API stores them; Conflict when a name or id is taken."""
    entries = [config_entry(c) for c in configs]
    for position, entry in enumerate(entries):
        at = now + timedelta(microseconds=position)  # created_at keeps the list's order: the first JWK is the admins'
        await provisioners.create(tx, StoredProvisioner(
            id=entry.id, name=entry.name, type=entry.type.value, document=dict(entry.config.document),
            created_at=at, updated_at=at,
        ))
    return [ProvisionerEntry(id=e.id, config=e.config, from_config=False) for e in entries]


async def add_super_admin(tx: Transaction, subject: str, stored: Sequence[ProvisionerEntry], *, admin_id: str,
                          now: datetime) -> AdminRecord | None:
    """``subject`` as SUPER_ADMIN of the first JWK provisioner of ``stored`` (None when there is none)."""
    jwk = next((e for e in stored if e.type is ProvisionerType.JWK), None)
    if jwk is None:
        return None
    record = AdminRecord(id=admin_id, subject=subject, provisioner_id=jwk.id, type=AdminType.SUPER_ADMIN,
                         created_at=now)
    return await admins.create(tx, record)


async def import_config_provisioners(database: Database, config: CAConfig, clock: Clock) -> None:
    """At start with remote management: import ca.json's provisioners into an empty table, then ignore them."""
    listed = config.authority.provisioners
    if not listed:
        return
    names = [p.name for p in listed]
    try:
        async with database.write() as tx:
            if not await provisioners.ever_stored(tx):
                await store_provisioners(tx, listed, now=clock.now())
                log.info("imported the provisioners of ca.json into the database", extra={"provisioners": names})
    except Conflict:
        pass  # another replica imported them at the same moment: the same rows, with the same ids
    log.warning(IGNORED, extra={"provisioners": names})
