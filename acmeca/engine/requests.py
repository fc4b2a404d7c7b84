"""What a front end hands the engine. The engine never sees JWS, tokens, URLs or HTTP requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509

from acmeca.crypto.keys import PublicKey
from acmeca.domain.claims import Claims
from acmeca.domain.identifiers import Identifier
from acmeca.domain.key_usage import ExtendedKeyUsage
from acmeca.domain.records import ProvisionerRef, Requester


@dataclass(frozen=True)
class CertificateProfile:
    """Certificate contents chosen by name, never copied from the CSR."""

    name: str = "default"
    validity: timedelta | None = None  # None: the claims' default
    ext_key_usage: tuple[ExtendedKeyUsage, ...] = (ExtendedKeyUsage.SERVER_AUTH, ExtendedKeyUsage.CLIENT_AUTH)
    omit_common_name: bool = False
    lint_cabf: bool = False  # lint with the CA/B Forum server-auth validators too (not only RFC 5280)


@dataclass(frozen=True)
class Validity:
    """Requested validity; either end may be left to the engine."""

    not_before: datetime | None = None
    not_after: datetime | None = None


@dataclass(frozen=True)
class IssuanceRequest:
    public_key: PublicKey
    common_name: str | None
    identifiers: tuple[Identifier, ...]
    requester: Requester
    provisioner: ProvisionerRef | None
    claims: Claims = field(default_factory=Claims)
    profile: CertificateProfile = field(default_factory=CertificateProfile)
    validity: Validity = field(default_factory=Validity)
    emails: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    acme_account_id: str | None = None
    acme_order_id: str | None = None
    acme_eab_key_id: str | None = None  # selects the ACME account-level policy
    renewed_from: str | None = None
    # Renewal and rekey copy the old subject verbatim (step-ca does), instead of building one from the CN.
    subject_override: x509.Name | None = None


@dataclass(frozen=True)
class IssuedCertificate:
    """A stored certificate plus the chain a client needs (leaf first, no root)."""

    serial: str
    leaf_pem: str
    chain_pem: tuple[str, ...]  # leaf, intermediate(s)
    not_before: datetime
    not_after: datetime
    der: bytes = b""

    @property
    def full_chain_pem(self) -> str:
        return "".join(self.chain_pem)
