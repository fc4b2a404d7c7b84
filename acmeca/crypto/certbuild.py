"""Resolved template -> signed DER. Pure and synchronous; imported only by the issuing engine."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from acmeca.crypto import der
from acmeca.crypto.certbuild_oids import PROVISIONER_EXTENSION_OID
from acmeca.crypto.keys import PublicKey, SigningKey

EKU_OIDS = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING,
    "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timeStamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "OCSPSigning": ExtendedKeyUsageOID.OCSP_SIGNING,
}
KEY_USAGES = (
    "digitalSignature", "contentCommitment", "keyEncipherment", "dataEncipherment", "keyAgreement",
    "certSign", "crlSign", "encipherOnly", "decipherOnly",
)


@dataclass(frozen=True)
class ProvisionerExtension:
    type_code: int
    name: str
    credential_id: str

    def encode(self) -> bytes:
        return der.sequence(
            der.integer(self.type_code),
            der.octet_string(self.name.encode()),
            der.octet_string(self.credential_id.encode()),
        )


@dataclass(frozen=True)
class CertificateTemplate:
    serial: int
    subject: x509.Name
    public_key: PublicKey
    not_before: datetime
    not_after: datetime
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    key_usage: frozenset[str] = frozenset({"digitalSignature"})
    ext_key_usage: tuple[str, ...] = ()
    is_ca: bool = False
    path_length: int | None = None
    crl_distribution_points: tuple[str, ...] = ()
    provisioner: ProvisionerExtension | None = None
    extra_extensions: tuple[x509.Extension[x509.ExtensionType], ...] = field(default=())


def build_certificate(
    template: CertificateTemplate, issuer: x509.Certificate | None, issuer_key: SigningKey
) -> x509.Certificate:
    """Sign ``template`` with ``issuer_key``; ``issuer=None`` makes a self-signed certificate."""
    issuer_name = issuer.subject if issuer is not None else template.subject
    builder = (
        x509.CertificateBuilder()
        .serial_number(template.serial)
        .subject_name(template.subject)
        .issuer_name(issuer_name)
        .public_key(template.public_key)
        .not_valid_before(template.not_before)
        .not_valid_after(template.not_after)
    )
    builder = builder.add_extension(_key_usage(template.key_usage), critical=True)
    if template.ext_key_usage:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([EKU_OIDS[name] for name in template.ext_key_usage]), critical=False
        )
    builder = builder.add_extension(
        x509.BasicConstraints(ca=template.is_ca, path_length=template.path_length if template.is_ca else None),
        critical=True,
    )
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(template.public_key), critical=False)
    if issuer is not None:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    sans = _general_names(template)
    if sans:
        # RFC 5280 §4.2.1.6: critical when the subject is empty.
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=len(template.subject) == 0)
    if template.crl_distribution_points:
        points = [
            x509.DistributionPoint([x509.UniformResourceIdentifier(u)], None, None, None)
            for u in template.crl_distribution_points
        ]
        builder = builder.add_extension(x509.CRLDistributionPoints(points), critical=False)
    if template.provisioner is not None:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(PROVISIONER_EXTENSION_OID, template.provisioner.encode()), critical=False
        )
    for extension in template.extra_extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    return builder.sign(issuer_key, signature_hash(issuer_key))


def signature_hash(key: SigningKey) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def sign_crl(builder: x509.CertificateRevocationListBuilder, issuer_key: SigningKey) -> bytes:
    """Sign a CRL the way certificates are signed (SHA-256, none for Ed25519) and return its DER.

    Here rather than in the engine's CRL module so the hash choice and the encoding stay with the other
    ``cryptography.hazmat`` code.
    """
    return builder.sign(issuer_key, signature_hash(issuer_key)).public_bytes(serialization.Encoding.DER)


def _key_usage(names: frozenset[str]) -> x509.KeyUsage:
    unknown = names - set(KEY_USAGES)
    if unknown:
        raise ValueError(f"unknown key usage {sorted(unknown)}")
    return x509.KeyUsage(
        digital_signature="digitalSignature" in names,
        content_commitment="contentCommitment" in names,
        key_encipherment="keyEncipherment" in names,
        data_encipherment="dataEncipherment" in names,
        key_agreement="keyAgreement" in names,
        key_cert_sign="certSign" in names,
        crl_sign="crlSign" in names,
        encipher_only="encipherOnly" in names,
        decipher_only="decipherOnly" in names,
    )


def _general_names(template: CertificateTemplate) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in template.dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in template.ip_addresses]
    names += [x509.RFC822Name(e) for e in template.emails]
    names += [x509.UniformResourceIdentifier(u) for u in template.uris]
    return names


def certificate_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)
