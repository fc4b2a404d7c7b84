"""Provisioner CRUD (``/admin/provisioners``) over the database; ca.json provisioners are read-only here.

Every document is validated the way the server will use it (claims, keys, roots) before it is stored, so
a provisioner that could not work is refused with the reason instead of breaking later. Writes invalidate
this replica's catalog; the others see the change within the catalog's refresh interval.
"""

from __future__ import annotations

import secrets
from typing import Any

from acmeca.admin.service import linkedca
from acmeca.admin.service.auth import AdminIdentity
from acmeca.config import ConfigError, K8sSAProvisionerConfig, OIDCProvisionerConfig, parse_provisioner
from acmeca.domain.claims import Claims
from acmeca.domain.clock import Clock
from acmeca.domain.encoding import rfc3339
from acmeca.domain.errors import Conflict, Malformed, NotFound
from acmeca.domain.management import PolicyScope, StoredPolicy, StoredProvisioner
from acmeca.engine.catalog import ProvisionerCatalog, ProvisionerEntry, config_entry
from acmeca.logs import audit_admin
from acmeca.policy import parse_policy_document
from acmeca.step.provisioners import InvalidProvisioner, token_provisioner
from acmeca.step.provisioners.k8ssa import K8sSAProvisioner
from acmeca.step.provisioners.oidc import OIDCProvisioner
from acmeca.store import policies, provisioners
from acmeca.store.database import Database

IMMUTABLE = ("id", "type", "authorityId", "createdAt", "deletedAt")


def validate_document(document: dict[str, Any], authority_claims: Claims) -> None:
    """Refuse a provisioner that could not serve: the typed parser ca.json uses, then its key material."""
    try:
        config = parse_provisioner(document, authority_claims=authority_claims, where="provisioner")
    except ConfigError as exc:
        raise Malformed(str(exc)) from None
    if not config.active:
        raise Malformed(f"provisioner type {config.type.value} is not served by acmeca")
    entry = config_entry(config)
    try:
        token_provisioner(entry)
        if isinstance(config, OIDCProvisionerConfig):
            OIDCProvisioner(entry.ref, config)
        elif isinstance(config, K8sSAProvisionerConfig):
            K8sSAProvisioner(entry.ref, config)
    except InvalidProvisioner as exc:
        raise Malformed(str(exc)) from None
    except ValueError as exc:
        raise Malformed(f"provisioner {config.name}: {exc}") from None


class ProvisionerAdminService:
    def __init__(
        self, catalog: ProvisionerCatalog, db: Database, clock: Clock, authority_claims: Claims,
    ) -> None:
        self._catalog = catalog
        self._db = db
        self._clock = clock
        self._claims = authority_claims

    async def page(self, cursor: str = "", limit: int = 100) -> tuple[list[dict[str, Any]], str]:
        """ca.json-style objects, as upstream's list does."""
        entries = sorted(await self._catalog.all(), key=lambda e: e.id)
        if cursor:
            entries = [e for e in entries if e.id > cursor]
        page = entries[:limit]
        return [dict(e.document) for e in page], page[-1].id if len(entries) > limit else ""

    async def entry(self, name: str | None = None, provisioner_id: str | None = None) -> ProvisionerEntry:
        if provisioner_id:
            return await self._catalog.by_id(provisioner_id)
        return await self._catalog.by_name(name or "")

    async def linked(self, entry: ProvisionerEntry) -> dict[str, Any]:
        async with self._db.read() as tx:
            policy = await policies.find(tx, PolicyScope.PROVISIONER, entry.id)
        return linkedca.from_config(
            entry.id, entry.document, created_at=entry.created_at, policy=policy.document if policy else None
        )

    async def create(self, caller: AdminIdentity, body: dict[str, Any]) -> dict[str, Any]:
        document = linkedca.to_config(body)
        await self._refuse_duplicates(document)
        validate_document(document, self._claims)
        policy = parse_policy_document(body["policy"]) if body.get("policy") else None
        now = self._clock.now()
        stored = StoredProvisioner(
            id=secrets.token_hex(16), name=document["name"], type=document["type"], document=document,
            created_at=now, updated_at=now,
        )
        async with self._db.write() as tx:
            await provisioners.create(tx, stored)
        if policy:
            async with self._db.write() as tx:
                await policies.create(tx, StoredPolicy(PolicyScope.PROVISIONER, stored.id, policy, now))
        self._catalog.invalidate()
        audit_admin("provisioner_created", "provisioner created", admin=caller.subject, provisioner=stored.name,
                    type=stored.type)
        return linkedca.from_config(stored.id, document, created_at=rfc3339(now), policy=policy)

    async def _refuse_duplicates(self, document: dict[str, Any], *, except_id: str | None = None) -> None:
        entries = await self._catalog.all()
        if any(e.name == document["name"] and e.id != except_id for e in entries):
            raise Conflict(f"provisioner with name {document['name']} already exists")
        if document["type"] == "K8sSA" and any(e.type.value == "K8sSA" and e.id != except_id for e in entries):
            raise Conflict("only one K8sSA provisioner is allowed")

    async def update(self, caller: AdminIdentity, name: str, body: dict[str, Any]) -> dict[str, Any]:
        entry = await self.stored_entry(name)
        current = linkedca.from_config(entry.id, entry.document)
        for key in IMMUTABLE:
            if key in body and body[key] not in (None, "", current.get(key)) and key != "createdAt":
                raise Malformed(f"cannot change provisioner {key}")
        document = linkedca.to_config({**body, "type": entry.type.value})
        await self._refuse_duplicates(document, except_id=entry.id)
        validate_document(document, self._claims)
        now = self._clock.now()
        async with self._db.write() as tx:
            await provisioners.update(tx, StoredProvisioner(
                id=entry.id, name=document["name"], type=document["type"], document=document, created_at=now,
                updated_at=now,
            ))
        self._catalog.invalidate()
        audit_admin("provisioner_updated", "provisioner updated", admin=caller.subject, provisioner=document["name"],
                    previous_name=name)
        return linkedca.from_config(entry.id, document, created_at=entry.created_at)

    async def delete(self, caller: AdminIdentity, name: str | None, provisioner_id: str | None = None) -> None:
        """Certificates keep their immutable provisioner id, so they stay attributable and revocable."""
        entry = await self.stored_entry(name, provisioner_id)
        async with self._db.write() as tx:
            await provisioners.delete(tx, entry.id, at=self._clock.now())
        self._catalog.invalidate()
        audit_admin("provisioner_deleted", "provisioner deleted", admin=caller.subject, provisioner=entry.name)

    async def stored_entry(self, name: str | None, provisioner_id: str | None = None) -> ProvisionerEntry:
        entry = await self.entry(name, provisioner_id)
        if entry.from_config:
            raise Malformed(f"provisioner {entry.name} is defined in ca.json; edit it there (acmeca provisioner ...)")
        return entry


__all__ = ["NotFound", "ProvisionerAdminService"]
