"""The engine's audit lines and certificate counters: what :class:`IssuingEngine` records after it issues or
revokes, in one place, so the issuing code keeps one call per event."""

from __future__ import annotations

from cryptography import x509

from acmeca import metrics
from acmeca.crypto import certs
from acmeca.domain.records import CertificateRecord, Requester
from acmeca.domain.status import ProvisionerType, RevocationReason
from acmeca.engine.requests import IssuanceRequest
from acmeca.engine.validity import ResolvedValidity
from acmeca.logs import audit


def record_issued(request: IssuanceRequest, serial: int, validity: ResolvedValidity) -> None:
    provisioner = request.provisioner
    audit(
        "issue", "certificate issued", serial=str(serial), identifiers=[i.value for i in request.identifiers],
        requester_kind=request.requester.kind.value, requester_id=request.requester.id,
        provisioner=provisioner.name if provisioner else None, common_name=request.common_name,
        profile=request.profile.name, not_before=validity.not_before.isoformat(),
        not_after=validity.not_after.isoformat(), renewed_from=request.renewed_from,
    )
    metrics.CERTIFICATES_ISSUED.labels(
        provisioner.name if provisioner else "", provisioner.type.value if provisioner else ""
    ).inc()


def record_revoked(
    record: CertificateRecord, *, reason: RevocationReason, note: str, revoked_by: Requester | str
) -> None:
    """``provisioner`` is the one that issued the certificate; ``requester_*`` says who revoked it."""
    kind, requester_id = (revoked_by.kind.value, revoked_by.id) if isinstance(revoked_by, Requester) else (
        None, revoked_by
    )
    audit(
        "revoke", "certificate revoked", serial=record.serial, identifiers=[i.value for i in record.identifiers],
        requester_kind=kind, requester_id=requester_id, provisioner=record.provisioner_name,
        reason=reason.name.lower(), reason_code=int(reason), note=note,
    )
    metrics.CERTIFICATES_REVOKED.labels(record.provisioner_name or "", _provisioner_type(record)).inc()


def _provisioner_type(record: CertificateRecord) -> str:
    """From the certificate's own provisioner extension: the row keeps the name, not the type."""
    if record.provisioner_name is None or not record.der:
        return ""
    found = certs.provisioner_of(x509.load_der_x509_certificate(record.der))
    if found is None:
        return ""
    return next((t.value for t in ProvisionerType if t.extension_code == found[0]), "")
