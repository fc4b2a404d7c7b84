"""Issuance policies at three levels (``/admin/policy``, ``/admin/provisioners/{p}/policy``,
``/admin/acme/policy/{p}/key|reference/...``). Upstream's open-source build answers the last two with 501.

A write is refused (400, nothing changed) when the policy is invalid, when it would stop an admin from
getting the certificate they authenticate with (the caller included), or, at authority level, when it would
forbid one of the CA's own ``dnsNames``: the server's TLS certificate is issued through the same engine.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from acmeca.admin.service.auth import AdminIdentity
from acmeca.domain.clock import Clock
from acmeca.domain.errors import Conflict, Malformed, NotFound
from acmeca.domain.management import PolicyScope, StoredPolicy
from acmeca.engine.name_policy import AUTHORITY_SCOPE_ID
from acmeca.logs import audit_admin
from acmeca.policy import CertificateNames, X509Policy, parse_policy_document
from acmeca.store import admins, policies
from acmeca.store.database import Database


@dataclass(frozen=True)
class PolicyTarget:
    """Where a policy lives, and whose names it must not lock out."""

    scope: PolicyScope
    scope_id: str
    label: str  # "authority", "provisioner acme", "ACME EAB key abc"
    admin_provisioner_id: str | None = None  # None: every admin (authority level)
    guards_ca_names: bool = False
    guards_admins: bool = True  # ACME EAB-key policies never apply to admin certificates


def _names_of(subject: str) -> CertificateNames:
    try:
        ipaddress.ip_address(subject)
    except ValueError:
        pass
    else:
        return CertificateNames(ips=[subject])
    if "@" in subject:
        return CertificateNames(emails=[subject])
    if "://" in subject:
        return CertificateNames(uris=[subject])
    return CertificateNames(dns=[subject])


class PolicyService:
    def __init__(
        self, db: Database, clock: Clock, ca_dns_names: Sequence[str], on_change: Any = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._ca_names = tuple(ca_dns_names)
        self._on_change = on_change

    async def _find(self, target: PolicyTarget) -> StoredPolicy | None:
        async with self._db.read() as tx:
            return await policies.find(tx, target.scope, target.scope_id)

    async def get(self, target: PolicyTarget) -> dict[str, Any]:
        found = await self._find(target)
        if found is None:
            raise NotFound(f"{target.label} policy does not exist")
        return found.document

    async def create(self, caller: AdminIdentity, target: PolicyTarget, body: Any) -> dict[str, Any]:
        document = await self._checked(caller, target, body)
        if await self._find(target) is not None:
            raise Conflict(f"{target.label} already has a policy")
        async with self._db.write() as tx:
            await policies.create(tx, StoredPolicy(target.scope, target.scope_id, document, self._clock.now()))
        self._changed("policy created", caller, target)
        return document

    async def update(self, caller: AdminIdentity, target: PolicyTarget, body: Any) -> dict[str, Any]:
        document = await self._checked(caller, target, body)
        async with self._db.write() as tx:
            await policies.update(tx, StoredPolicy(target.scope, target.scope_id, document, self._clock.now()))
        self._changed("policy updated", caller, target)
        return document

    async def delete(self, caller: AdminIdentity, target: PolicyTarget) -> None:
        async with self._db.write() as tx:
            await policies.delete(tx, target.scope, target.scope_id)
        self._changed("policy deleted", caller, target)

    def _changed(self, event: str, caller: AdminIdentity, target: PolicyTarget) -> None:
        if self._on_change is not None:
            self._on_change()
        audit_admin(event.replace(" ", "_"), event, admin=caller.subject, scope=target.scope.value,
                    scope_id=target.scope_id, target=target.label)

    async def _checked(self, caller: AdminIdentity, target: PolicyTarget, body: Any) -> dict[str, Any]:
        document = parse_policy_document(body)
        policy = X509Policy.from_document(document)
        subjects: set[str] = set()
        if target.guards_admins:
            if target.admin_provisioner_id in (None, caller.provisioner.id):
                subjects.add(caller.subject)
            async with self._db.read() as tx:
                live = await admins.live(tx)
            for admin in live:
                if target.admin_provisioner_id in (None, admin.provisioner_id):
                    subjects.add(admin.subject)
        for subject in sorted(subjects):
            if policy.violation(_names_of(subject)) is not None:
                raise Malformed(
                    f"the provided policy would lock out [{subject}] from the CA. "
                    f"Please update your policy to include [{subject}] as an allowed name"
                )
        if target.guards_ca_names:
            for name in self._ca_names:
                found = policy.violation(_names_of(name))
                if found is not None:
                    raise Malformed(f"the provided policy would forbid the CA's own name {name!r} ({found})")
        return document


def authority_target() -> PolicyTarget:
    return PolicyTarget(PolicyScope.AUTHORITY, AUTHORITY_SCOPE_ID, "authority", guards_ca_names=True)


def provisioner_target(provisioner_id: str, name: str) -> PolicyTarget:
    """A provisioner's policy must not lock out that provisioner's admins."""
    return PolicyTarget(
        PolicyScope.PROVISIONER, provisioner_id, f"provisioner {name}", admin_provisioner_id=provisioner_id
    )


def eab_key_target(key_id: str) -> PolicyTarget:
    """An EAB key's policy applies to ACME accounts bound with it, never to admin certificates."""
    return PolicyTarget(PolicyScope.EAB_KEY, key_id, f"ACME EAB key {key_id}", guards_admins=False)
