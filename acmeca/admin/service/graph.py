"""The admin services wired from the process's collaborators, and the first admin of a fresh CA.

The admin web layer imports only its own service layer (plus edge, domain and config): the repositories and
the engine hooks it needs are constructed here, so ``admin/web`` never names ``acmeca.store`` or
``acmeca.engine`` (an import-linter contract holds it to that).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from acmeca.acme.service.renewals import RenewalService
from acmeca.admin.service.admins import AdminService
from acmeca.admin.service.auth import AdminAuthenticator
from acmeca.admin.service.eab import EabKeyService
from acmeca.admin.service.policies import PolicyService
from acmeca.admin.service.provisioners import ProvisionerAdminService
from acmeca.config import CAConfig
from acmeca.domain.clock import Clock
from acmeca.domain.errors import Conflict
from acmeca.domain.status import ProvisionerType
from acmeca.engine.issuer import IssuingEngine
from acmeca.engine.name_policy import StoredNamePolicy
from acmeca.engine.provisioners import ProvisionerCatalog
from acmeca.logs import audit
from acmeca.store.admins import AdminRecord, AdminRepository, AdminType
from acmeca.store.database import Database
from acmeca.store.eab_keys import EabKeyRepository
from acmeca.store.policies import PolicyRepository
from acmeca.store.provisioners import ProvisionerRepository
from acmeca.store.used_tokens import UsedTokenRepository

DEFAULT_ADMIN_SUBJECT = "step"


@dataclass(frozen=True)
class AdminServices:
    auth: AdminAuthenticator
    admins: AdminService
    provisioners: ProvisionerAdminService
    policies: PolicyService
    eab: EabKeyService
    renewals: RenewalService  # ARI's early-renewal request is an admin operation on ACME's certificates


def build_admin_services(
    *, config: CAConfig, clock: Clock, db: Database, catalog: ProvisionerCatalog, engine: IssuingEngine,
    roots: Sequence[x509.Certificate],
) -> AdminServices:
    """Every admin service over shared repositories; a stored name policy is reloaded when one changes."""
    admins, policies = AdminRepository(db), PolicyRepository(db)
    name_policy = engine.name_policy
    on_change = name_policy.invalidate if isinstance(name_policy, StoredNamePolicy) else None
    return AdminServices(
        auth=AdminAuthenticator(
            roots=roots, dns_names=config.dns_names, catalog=catalog, admins=admins,
            used_tokens=UsedTokenRepository(db), clock=clock,
        ),
        admins=AdminService(admins, catalog, clock),
        provisioners=ProvisionerAdminService(
            catalog, ProvisionerRepository(db), policies, clock, config.authority.claims
        ),
        policies=PolicyService(policies, admins, clock, config.dns_names, on_change=on_change),
        eab=EabKeyService(EabKeyRepository(db), catalog, policies, clock),
        renewals=RenewalService(db, clock, engine),
    )


async def ensure_first_admin(*, config: CAConfig, clock: Clock, db: Database, catalog: ProvisionerCatalog) -> None:
    """With no admin at all, make the configured subject (``authority.adminSubject``, default ``step``) a
    SUPER_ADMIN of the first JWK provisioner, as step-ca does on its first start with remote management.

    This runs at first use rather than in ``init`` so a CA whose database is replaced or moved to
    PostgreSQL still gets its first admin.
    """
    repository = AdminRepository(db)
    if await repository.count() != 0:
        return
    jwk = next((e for e in await catalog.all() if e.type is ProvisionerType.JWK), None)
    if jwk is None:
        return
    subject = str((config.document.get("authority") or {}).get("adminSubject") or DEFAULT_ADMIN_SUBJECT)
    # A deterministic id: replicas bootstrapping at the same moment insert the same row once.
    first_id = hashlib.sha256(f"first-admin/{jwk.id}/{subject}".encode()).hexdigest()[:32]
    record = AdminRecord(
        id=first_id, subject=subject, provisioner_id=jwk.id, type=AdminType.SUPER_ADMIN, created_at=clock.now(),
    )
    with contextlib.suppress(Conflict):  # another replica won: its row is the same one
        await repository.create(record)
        audit("admin created", admin="acmeca", target=subject, provisioner=jwk.name, role="SUPER_ADMIN")
