"""The admin services of one process, built on first use from the parent application's collaborators."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass

from aiohttp import web

from acmeca.admin.service.admins import AdminService
from acmeca.admin.service.auth import AdminAuthenticator, AdminIdentity
from acmeca.admin.service.eab import EabKeyService
from acmeca.admin.service.policies import PolicyService
from acmeca.admin.service.provisioners import ProvisionerAdminService
from acmeca.domain.errors import Conflict
from acmeca.domain.management import AdminRecord, AdminType
from acmeca.domain.status import ProvisionerType
from acmeca.edge import keys
from acmeca.engine.name_policy import StoredNamePolicy
from acmeca.logs import audit


@dataclass(frozen=True)
class AdminServices:
    auth: AdminAuthenticator
    admins: AdminService
    provisioners: ProvisionerAdminService
    policies: PolicyService
    eab: EabKeyService


class Holder:
    """Mutable slot in the (frozen) sub-application: services are built lazily, once."""

    def __init__(self) -> None:
        self.services: AdminServices | None = None
        self.bootstrapped = False


DEFAULT_ADMIN_SUBJECT = "step"
HOLDER: web.AppKey[Holder] = web.AppKey("admin_holder", Holder)
IDENTITY = web.RequestKey("admin_identity", AdminIdentity)


def build(request: web.Request) -> AdminServices:
    parent = request.config_dict
    config, clock, db, catalog = parent[keys.CONFIG], parent[keys.CLOCK], parent[keys.DATABASE], parent[keys.CATALOG]
    engine = parent[keys.ENGINE]
    name_policy = engine.name_policy
    on_change = name_policy.invalidate if isinstance(name_policy, StoredNamePolicy) else None
    return AdminServices(
        auth=AdminAuthenticator(
            roots=parent[keys.TRUST].roots, dns_names=config.dns_names, catalog=catalog, db=db, clock=clock,
        ),
        admins=AdminService(db, catalog, clock),
        provisioners=ProvisionerAdminService(catalog, db, clock, config.authority.claims),
        policies=PolicyService(db, clock, config.dns_names, on_change=on_change),
        eab=EabKeyService(db, catalog, clock),
    )


def services(request: web.Request) -> AdminServices:
    holder = request.config_dict[HOLDER]
    if holder.services is None:
        holder.services = build(request)
    return holder.services


def identity(request: web.Request) -> AdminIdentity:
    return request[IDENTITY]


async def ensure_first_admin(request: web.Request) -> None:
    """With no admin at all, make the configured subject (``authority.adminSubject``, default ``step``) a
    SUPER_ADMIN of the first JWK provisioner, as step-ca does on its first start with remote management.

    This runs at first use rather than in ``init`` so a CA whose database is replaced or moved to
    PostgreSQL still gets its first admin.
    """
    holder = request.config_dict[HOLDER]
    if holder.bootstrapped:
        return
    parent = request.config_dict
    config, catalog = parent[keys.CONFIG], parent[keys.CATALOG]
    admins = services(request).admins
    if await admins.count() == 0:
        jwk = next((e for e in await catalog.all() if e.type is ProvisionerType.JWK), None)
        if jwk is not None:
            subject = str((config.document.get("authority") or {}).get("adminSubject") or DEFAULT_ADMIN_SUBJECT)
            # A deterministic id: replicas bootstrapping at the same moment insert the same row once.
            first_id = hashlib.sha256(f"first-admin/{jwk.id}/{subject}".encode()).hexdigest()[:32]
            record = AdminRecord(
                id=first_id, subject=subject, provisioner_id=jwk.id, type=AdminType.SUPER_ADMIN,
                created_at=parent[keys.CLOCK].now(),
            )
            with contextlib.suppress(Conflict):  # another replica won: its row is the same one
                await admins.add_first(record)
                audit("admin created", admin="acmeca", target=subject, provisioner=jwk.name, role="SUPER_ADMIN")
    holder.bootstrapped = True
