"""Frozen records that cross layer boundaries (store -> engine -> services): certificates, CRLs, jobs.

ACME records live in :mod:`acmeca.domain.acme`, remote-management ones in :mod:`acmeca.domain.management`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from acmeca.domain.identifiers import Identifier
from acmeca.domain.status import ProvisionerType, RequesterKind, RevocationReason


@dataclass(frozen=True)
class ProvisionerRef:
    """What the engine must know about the provisioner behind an issuance.

    ``id`` is immutable and recorded on every certificate, so a certificate stays attributable (and
    revocable) after its provisioner is renamed or deleted.
    """

    id: str
    name: str
    type: ProvisionerType
    credential_id: str = ""  # JWK kid, OIDC client id: the third field of step-ca's extension


@dataclass(frozen=True)
class Requester:
    kind: RequesterKind
    id: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}"


@dataclass(frozen=True)
class Revocation:
    revoked_at: datetime
    reason: RevocationReason
    note: str
    revoked_by: str


@dataclass(frozen=True)
class CertificateRecord:
    serial: str  # canonical decimal
    der: bytes
    issuer_ski: str
    spki_sha256: str
    common_name: str | None
    identifiers: tuple[Identifier, ...]
    profile: str
    requester: Requester
    provisioner_id: str | None
    provisioner_name: str | None
    not_before: datetime
    not_after: datetime
    created_at: datetime
    acme_account_id: str | None = None
    acme_order_id: str | None = None
    revocation: Revocation | None = None
    renewed_from: str | None = None
    replaced_by_order: str | None = None
    renewal_suggested_at: datetime | None = None

    @property
    def is_revoked(self) -> bool:
        return self.revocation is not None


@dataclass(frozen=True)
class Reservation:
    """Everything known about a certificate before it is signed; persisted first so a serial is never reused."""

    serial: str
    issuer_ski: str
    spki_sha256: str
    common_name: str | None
    identifiers: tuple[Identifier, ...]
    profile: str
    requester: Requester
    provisioner_id: str | None
    provisioner_name: str | None
    not_before: datetime
    not_after: datetime
    created_at: datetime
    acme_account_id: str | None = None
    acme_order_id: str | None = None
    renewed_from: str | None = None


@dataclass(frozen=True)
class RevokedEntry:
    serial: str
    revoked_at: datetime
    reason: RevocationReason


@dataclass(frozen=True)
class StoredCRL:
    issuer_ski: str
    number: int
    der: bytes
    this_update: datetime
    next_update: datetime


@dataclass(frozen=True)
class JobRecord:
    """A durable background job (validation, finalization) and who holds its lease."""

    id: int
    kind: str
    subject_id: str
    payload: dict[str, Any]
    run_at: datetime
    attempts: int
    lease_owner: str | None
    lease_expires_at: datetime | None
