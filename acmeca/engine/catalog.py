"""One view of every provisioner, whether it lives in ca.json or in the database.

Database-backed provisioners change at run time (admin API); each replica re-reads them when the newest
change time moves, checked at most every ``refresh_interval``, so an edit is visible everywhere within
seconds without a restart. Stored rows go through the same typed parser as ca.json; a row that no longer
parses is logged once and skipped, never fatal. Inactive types (step-ca types acmeca does not serve) are
left out: they are listed at start-up and used nowhere.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, cast

from acmeca.config import ConfigError, ProvisionerConfig, parse_provisioner
from acmeca.domain.claims import Claims
from acmeca.domain.clock import Clock
from acmeca.domain.errors import NotFound
from acmeca.domain.management import StoredProvisioner
from acmeca.domain.records import ProvisionerRef
from acmeca.domain.status import ProvisionerType
from acmeca.store import provisioners
from acmeca.store.database import Database

log = logging.getLogger(__name__)
T = TypeVar("T")
_CONFIG_NAMESPACE = uuid.UUID("6f1c7d4e-0a5b-4f43-9d0e-a0e0ca000001")


@dataclass(frozen=True)
class ProvisionerEntry:
    id: str
    config: ProvisionerConfig
    from_config: bool
    created_at: datetime | None = None  # stored provisioners only: when the admin API created it

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def type(self) -> ProvisionerType:
        return self.config.type

    @property
    def claims(self) -> Claims:
        return self.config.claims

    @property
    def document(self) -> dict[str, Any]:
        """The provisioner as written (ca.json or admin API), for echoing back; settings come from ``config``."""
        return dict(self.config.document)

    @property
    def ref(self) -> ProvisionerRef:
        return ProvisionerRef(id=self.id, name=self.name, type=self.type, credential_id=self.config.credential_id)


def config_entry(provisioner: ProvisionerConfig) -> ProvisionerEntry:
    """A ca.json provisioner; its id is derived from type and name so it is stable across restarts."""
    entry_id = str(uuid.uuid5(_CONFIG_NAMESPACE, f"{provisioner.type.value}/{provisioner.name}"))
    return ProvisionerEntry(id=entry_id, config=provisioner, from_config=True)


class ProvisionerCatalog:
    def __init__(
        self,
        config_provisioners: Sequence[ProvisionerConfig],
        db: Database,
        clock: Clock,
        *,
        authority_claims: Claims | None = None,
        refresh_interval: timedelta = timedelta(seconds=2),
    ) -> None:
        self._config = _active(config_provisioners)
        self._db = db
        self._clock = clock
        self._authority_claims = authority_claims or Claims()
        self._refresh_interval = refresh_interval
        self._stored: list[ProvisionerEntry] = []
        self._stored_version: datetime | None = None
        self._checked_at: datetime | None = None
        self._unparsable: set[tuple[str, datetime]] = set()
        self._lock = asyncio.Lock()

    @property
    def authority_claims(self) -> Claims:
        """The claims stored provisioners (and those written through the admin API) are merged over."""
        return self._authority_claims

    def replace_config(self, config_provisioners: Sequence[ProvisionerConfig]) -> None:
        """Swap in ca.json provisioners after a SIGHUP reload."""
        self._config = _active(config_provisioners)

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
                self._stored = [e for e in map(self._parse_stored, rows) if e]
                self._stored_version = version
            self._checked_at = now

    def _parse_stored(self, row: StoredProvisioner) -> ProvisionerEntry | None:
        row_id, document, updated_at = row.id, row.document, row.updated_at
        try:
            provisioner = parse_provisioner(document, authority_claims=self._authority_claims, where="provisioner")
        except ConfigError as exc:
            if (row_id, updated_at) not in self._unparsable:
                self._unparsable.add((row_id, updated_at))
                log.error("stored provisioner skipped: it no longer parses", extra={"id": row_id, "reason": str(exc)})
            return None
        if not provisioner.active:
            return None
        return ProvisionerEntry(id=row_id, config=provisioner, from_config=False, created_at=row.created_at)


def _active(provisioners: Sequence[ProvisionerConfig]) -> list[ProvisionerEntry]:
    return [config_entry(p) for p in provisioners if p.active]


class PerEntry(Generic[T]):
    """Objects built from catalog entries (token verifiers, typed ACME views), rebuilt only when the entry changes.

    The catalog hands out the same entry object until its provisioner changes (a SIGHUP, or a stored edit seen
    by the catalog's refresh, on this replica or another), so identity is the invalidation rule. A build that
    fails is remembered too: it fails the same way until the entry changes, and ``on_failure`` hears of it once.
    """

    def __init__(
        self, build: Callable[[ProvisionerEntry], T],
        on_failure: Callable[[ProvisionerEntry, Exception], None] | None = None,
    ) -> None:
        self._build = build
        self._on_failure = on_failure
        self._built: dict[str, tuple[ProvisionerEntry, T | None, Exception | None]] = {}

    def get(self, entry: ProvisionerEntry) -> T:
        cached = self._built.get(entry.id)
        if cached is None or cached[0] is not entry:
            try:
                cached = (entry, self._build(entry), None)
            except Exception as exc:
                cached = (entry, None, exc)
                if self._on_failure is not None:
                    self._on_failure(entry, exc)
            self._built[entry.id] = cached
        if cached[2] is not None:
            raise cached[2]
        return cast(T, cached[1])
