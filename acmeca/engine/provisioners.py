"""One view of every provisioner, whether it lives in ca.json or in the database.

Database-backed provisioners change at run time (admin API); each replica re-reads them when the newest
change time moves, checked at most every ``refresh_interval``, so an edit is visible everywhere within
seconds without a restart.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from acmeca.domain.clock import Clock
from acmeca.domain.errors import NotFound
from acmeca.domain.records import ProvisionerRef
from acmeca.domain.status import ProvisionerType
from acmeca.store import provisioners
from acmeca.store.database import Database

_CONFIG_NAMESPACE = uuid.UUID("6f1c7d4e-0a5b-4f43-9d0e-a0e0ca000001")


def _provisioner_type(value: str) -> ProvisionerType:
    for member in ProvisionerType:
        if member.value.lower() == value.lower():
            return member
    raise ValueError(f"unknown provisioner type {value!r}")


@dataclass(frozen=True)
class ProvisionerEntry:
    id: str
    name: str
    type: ProvisionerType
    document: dict[str, Any]  # ca.json-shaped object
    from_config: bool

    @property
    def credential_id(self) -> str:
        if self.type is ProvisionerType.JWK:
            return str((self.document.get("key") or {}).get("kid", ""))
        if self.type is ProvisionerType.OIDC:
            return str(self.document.get("clientID", ""))
        return ""

    @property
    def ref(self) -> ProvisionerRef:
        return ProvisionerRef(id=self.id, name=self.name, type=self.type, credential_id=self.credential_id)


def config_entry(document: dict[str, Any]) -> ProvisionerEntry:
    """A ca.json provisioner; its id is derived from type and name so it is stable across restarts."""
    kind = _provisioner_type(str(document.get("type", "")))
    name = str(document["name"])
    entry_id = str(uuid.uuid5(_CONFIG_NAMESPACE, f"{kind.value}/{name}"))
    return ProvisionerEntry(id=entry_id, name=name, type=kind, document=document, from_config=True)


class ProvisionerCatalog:
    def __init__(
        self,
        config_documents: Sequence[dict[str, Any]],
        db: Database | None,
        clock: Clock,
        *,
        refresh_interval: timedelta = timedelta(seconds=2),
    ) -> None:
        self._config = [config_entry(d) for d in config_documents]
        self._db = db
        self._clock = clock
        self._refresh_interval = refresh_interval
        self._stored: list[ProvisionerEntry] = []
        self._stored_version: datetime | None = None
        self._checked_at: datetime | None = None
        self._lock = asyncio.Lock()

    def replace_config(self, config_documents: Sequence[dict[str, Any]]) -> None:
        """Swap in ca.json provisioners after a SIGHUP reload."""
        self._config = [config_entry(d) for d in config_documents]

    def invalidate(self) -> None:
        self._checked_at = None

    async def all(self) -> list[ProvisionerEntry]:
        await self._refresh()
        return [*self._config, *self._stored]

    async def by_name(self, name: str) -> ProvisionerEntry:
        for entry in await self.all():
            if entry.name == name:
                return entry
        raise NotFound(f"provisioner '{name}' not found")

    async def by_id(self, provisioner_id: str) -> ProvisionerEntry:
        for entry in await self.all():
            if entry.id == provisioner_id:
                return entry
        raise NotFound(f"provisioner with id '{provisioner_id}' not found")

    async def _refresh(self) -> None:
        if self._db is None:
            return
        now = self._clock.now()
        if self._checked_at is not None and now - self._checked_at < self._refresh_interval:
            return
        async with self._lock:
            if self._checked_at is not None and now - self._checked_at < self._refresh_interval:
                return
            async with self._db.read() as tx:
                version = await provisioners.latest_change(tx)
            if version != self._stored_version or self._checked_at is None:
                async with self._db.read() as tx:
                    rows = await provisioners.live(tx)
                self._stored = [
                    ProvisionerEntry(
                        id=r.id, name=r.name, type=_provisioner_type(r.type), document=r.document, from_config=False
                    )
                    for r in rows
                ]
                self._stored_version = version
            self._checked_at = now
