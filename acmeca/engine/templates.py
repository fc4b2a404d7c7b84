"""The default leaf template (step-ca §5.1) resolved against a request and a profile."""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

from acmeca.crypto.certbuild import CertificateTemplate, ProvisionerExtension
from acmeca.crypto.keys import is_rsa
from acmeca.domain.identifiers import IdentifierType
from acmeca.engine.requests import IssuanceRequest
from acmeca.engine.validity import ResolvedValidity


def leaf_template(
    request: IssuanceRequest, *, serial: int, validity: ResolvedValidity, crl_urls: tuple[str, ...]
) -> CertificateTemplate:
    key_usage = {"digitalSignature"}
    if is_rsa(request.public_key):
        key_usage.add("keyEncipherment")
    provisioner = None
    if request.provisioner is not None and not request.claims.disable_smallstep_extensions:
        provisioner = ProvisionerExtension(
            type_code=request.provisioner.type.extension_code,
            name=request.provisioner.name,
            credential_id=request.provisioner.credential_id,
        )
    return CertificateTemplate(
        serial=serial,
        subject=subject_of(request),
        public_key=request.public_key,
        not_before=validity.not_before,
        not_after=validity.not_after,
        dns_names=tuple(i.value for i in request.identifiers if i.type is IdentifierType.DNS),
        ip_addresses=tuple(i.value for i in request.identifiers if i.type is IdentifierType.IP),
        emails=request.emails,
        uris=request.uris,
        key_usage=frozenset(key_usage),
        ext_key_usage=tuple(e.value for e in request.profile.ext_key_usage),
        crl_distribution_points=crl_urls,
        provisioner=provisioner,
    )


def subject_of(request: IssuanceRequest) -> x509.Name:
    if request.subject_override is not None:
        return request.subject_override
    if request.common_name and not request.profile.omit_common_name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, request.common_name)])
    return x509.Name([])
