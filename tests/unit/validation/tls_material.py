"""Certificates for the tls-alpn-01 and https tests, built with cryptography so every rule can be broken alone."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from acmeca.crypto.certbuild_oids import ACME_IDENTIFIER_OID
from acmeca.crypto.der import octet_string

OBSOLETE_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.30.1")


@dataclass
class ChallengeCert:
    """A recipe for a tls-alpn-01 certificate; the defaults make a valid one."""

    name: str
    key_authorization: str
    ip_san: bool = False
    extra_sans: list[x509.GeneralName] = field(default_factory=list)
    no_san: bool = False
    critical: bool = True
    oid: x509.ObjectIdentifier = ACME_IDENTIFIER_OID
    raw_value: bytes | None = None
    issuer_key: ec.EllipticCurvePrivateKey | None = None
    issuer_name: str | None = None

    def build(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme challenge")])
        issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.issuer_name)]) if self.issuer_name else subject
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )
        if not self.no_san:
            primary: x509.GeneralName = (
                x509.IPAddress(ipaddress.ip_address(self.name)) if self.ip_san else x509.DNSName(self.name)
            )
            builder = builder.add_extension(x509.SubjectAlternativeName([primary, *self.extra_sans]), critical=False)
        digest = hashlib.sha256(self.key_authorization.encode()).digest()
        value = self.raw_value if self.raw_value is not None else octet_string(digest)
        builder = builder.add_extension(x509.UnrecognizedExtension(self.oid, value), critical=self.critical)
        signer = self.issuer_key or key
        return builder.sign(signer, hashes.SHA256()), key

    def der(self) -> bytes:
        certificate, _ = self.build()
        return certificate.public_bytes(serialization.Encoding.DER)

    def pem_pair(self) -> tuple[bytes, bytes]:
        certificate, key = self.build()
        return certificate.public_bytes(serialization.Encoding.PEM), key_pem(key)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def self_signed_pem(name: str) -> tuple[bytes, bytes]:
    """An ordinary self-signed server certificate (for https redirect targets)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem(key)
